// Package console is the gateway's web console: a page of hand-written
// HTML, CSS and JavaScript, embedded in the binary, that operators open at
// the gateway's root. It fetches nothing from anywhere but the gateway.
//
// The page itself is public: it holds no data. The script asks for the
// admin token, keeps it in the tab's sessionStorage, and sends it as
// Authorization: Bearer on every /api call it makes; a 401 sends the user
// back to sign-in. Live pages poll the API every two seconds while the tab
// is visible.
//
// The package knows nothing of the gateway's router: Paths lists what it
// serves and Handler serves those paths, so the gateway routes each one
// and everything else stays the router's (unknown paths keep their
// OperationOutcome 404).
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"time"
)

//go:embed static
var static embed.FS

// prefix is where the assets are served; the page is served at "/".
const prefix = "/console/"

// securityHeaders go on every console response. The page loads only its
// own script and style, and no other site may frame it.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
		"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
	"X-Content-Type-Options": "nosniff",
	"X-Frame-Options":        "DENY",
	"Referrer-Policy":        "no-referrer",
}

// types are the media types of the files the console holds, fixed here
// rather than read from the system's tables.
var types = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// asset is one embedded file, ready to serve.
type asset struct {
	body  []byte
	ctype string
	etag  string
	cache string // Cache-Control
}

// assets maps each served path to its file; built once at start-up.
var assets = mustLoad()

func mustLoad() map[string]asset {
	out := map[string]asset{}
	err := fs.WalkDir(static, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := static.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ctype, ok := types[path.Ext(name)]
		if !ok {
			return fmt.Errorf("%s: no media type for %q files", name, path.Ext(name))
		}
		a := asset{body: body, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, cache: "no-cache"}
		base := path.Base(name)
		if base == "index.html" {
			// The page is never stored: signing out must leave nothing behind.
			a.cache = "no-store"
			out["/"] = a
			return nil
		}
		out[prefix+base] = a
		return nil
	})
	if err != nil {
		panic("console: embedded assets: " + err.Error()) // the build embedded them: cannot happen
	}
	return out
}

// Paths lists the paths Handler serves, sorted: "/" and the assets under
// /console/.
func Paths() []string {
	out := make([]string, 0, len(assets))
	for p := range assets {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Handler serves the console's page and assets, for GET and HEAD, with
// the security headers on every answer. A path that is not in Paths gets a
// plain 404; the gateway routes only Paths to it. It is safe for
// concurrent use.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for k, v := range securityHeaders {
			h.Set(k, v)
		}
		a, ok := assets[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h.Set("Content-Type", a.ctype)
		h.Set("Cache-Control", a.cache)
		if a.cache != "no-store" {
			h.Set("ETag", a.etag)
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}
