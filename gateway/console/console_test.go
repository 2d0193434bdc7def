package console

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	h := Handler()
	tests := []struct {
		name   string
		method string
		path   string
		header map[string]string
		status int
		ctype  string
		cache  string
		body   string // part of the body
	}{
		{name: "page", method: "GET", path: "/", status: 200, ctype: "text/html; charset=utf-8", cache: "no-store", body: `<script src="/console/console.js"`},
		{name: "script", method: "GET", path: "/console/console.js", status: 200, ctype: "text/javascript; charset=utf-8", cache: "no-cache", body: "sessionStorage"},
		{name: "style", method: "GET", path: "/console/console.css", status: 200, ctype: "text/css; charset=utf-8", cache: "no-cache"},
		{name: "logo", method: "GET", path: "/console/logo.svg", status: 200, ctype: "image/svg+xml", cache: "no-cache"},
		{name: "head", method: "HEAD", path: "/console/console.js", status: 200, ctype: "text/javascript; charset=utf-8"},
		{name: "unknown asset", method: "GET", path: "/console/nope.js", status: 404},
		{name: "directory", method: "GET", path: "/console/", status: 404},
		{name: "post", method: "POST", path: "/", status: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			hd := rec.Header()
			csp := hd.Get("Content-Security-Policy")
			if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
			if hd.Get("X-Content-Type-Options") != "nosniff" || hd.Get("X-Frame-Options") != "DENY" {
				t.Errorf("headers %v", hd)
			}
			if tt.ctype != "" && hd.Get("Content-Type") != tt.ctype {
				t.Errorf("Content-Type %q, want %q", hd.Get("Content-Type"), tt.ctype)
			}
			if tt.cache != "" && hd.Get("Cache-Control") != tt.cache {
				t.Errorf("Cache-Control %q, want %q", hd.Get("Cache-Control"), tt.cache)
			}
			if !strings.Contains(rec.Body.String(), tt.body) {
				t.Errorf("body lacks %q", tt.body)
			}
		})
	}
}

// An asset asked for again with its ETag is a 304; the page has none.
func TestHandlerRevalidates(t *testing.T) {
	h := Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/console/console.css", nil))
	etag := rec.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on an asset")
	}
	req := httptest.NewRequest("GET", "/console/console.css", nil)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Errorf("revalidation: %d, want 304", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Header().Get("ETag") != "" {
		t.Error("the page has an ETag; it must not be stored at all")
	}
}

// The page loads nothing from elsewhere and writes no data as HTML.
func TestSelfContained(t *testing.T) {
	for p, a := range assets {
		body := string(a.body)
		for _, bad := range []string{"http://", "https://", "//cdn", "@import", "fonts.g"} {
			if strings.Contains(body, bad) && !(strings.HasSuffix(p, ".svg") && bad == "http://") {
				t.Errorf("%s holds %q: the console fetches nothing from elsewhere", p, bad)
			}
		}
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s uses %s: data goes into the page as text only", p, bad)
			}
		}
	}
	if got := Paths(); len(got) != len(assets) || got[0] != "/" {
		t.Errorf("Paths() = %v", got)
	}
}
