package httpresult

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/liaisonhq/liaison/gateway/outbox"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRetryAfter(t *testing.T) {
	now := time.Date(2024, 6, 15, 13, 30, 0, 500e6, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-5", 0},
		{"1.5", 0},
		{"soon", 0},
		{"86400", MaxRetryAfter},
		{"999999999999999999999", MaxRetryAfter},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second}, // 29.5s, rounded up
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{now.Add(100 * time.Hour).Format(http.TimeFormat), MaxRetryAfter},
		{"Sat, 01 Jan 2700 00:00:00 GMT", MaxRetryAfter}, // beyond time.Duration
		{"Sat, 15 Jun 2024 13:31:00 GMT", 60 * time.Second},
		{"Saturday, 15-Jun-24 13:31:00 GMT", 60 * time.Second}, // RFC 850
		{"Sat Jun 15 13:31:00 2024", 60 * time.Second},         // asctime
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			if got := RetryAfter(tt.value, now); got != tt.want {
				t.Errorf("RetryAfter(%q) = %v, want %v", tt.value, got, tt.want)
			}
		})
	}
}

// response builds a response as http.Client.Do returns one.
func response(status int, contentType, body string, hdr ...string) *http.Response {
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Set(hdr[i], hdr[i+1])
	}
	return &http.Response{StatusCode: status, Header: h, Body: &body1{Reader: strings.NewReader(body)}}
}

// body1 records that it was closed and how much was left unread.
type body1 struct {
	*strings.Reader
	closed bool
}

func (b *body1) Close() error { b.closed = true; return nil }

const outcome = `{"resourceType":"OperationOutcome","issue":[` +
	`{"severity":"warning","code":"informational","diagnostics":"MRN 12345 looks odd"},` +
	`{"severity":"error","code":"code-invalid","diagnostics":"value 'robot' for MRN 12345","expression":["Patient.gender"]}]}`

func TestClassify(t *testing.T) {
	tests := []struct {
		name       string
		resp       *http.Response
		status     int // 0: want nil
		retryAfter time.Duration
		err        string
	}{
		{"200", response(200, "application/fhir+json", `{"resourceType":"Patient"}`), 0, 0, ""},
		{"201", response(201, "", ""), 0, 0, ""},
		{"204", response(204, "", ""), 0, 0, ""},
		{"422 OperationOutcome", response(422, "application/fhir+json;charset=utf-8", outcome), 422, 0,
			"PUT Patient: Unprocessable Entity: OperationOutcome error code-invalid at Patient.gender"},
		{"503 Retry-After", response(503, "text/plain", "busy", "Retry-After", "7"), 503, 7 * time.Second, "PUT Patient: Service Unavailable"},
		{"400 HTML", response(400, "text/html", "<html>bad</html>"), 400, 0, "PUT Patient: Bad Request"},
		{"599", response(599, "", ""), 599, 0, "PUT Patient: unexpected status"},
		{"302", response(302, "", "", "Location", "https://elsewhere"), 302, 0, "PUT Patient: Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Classify("PUT Patient", tt.resp, nil)
			if b := tt.resp.Body.(*body1); !b.closed || b.Len() != 0 {
				t.Errorf("body closed %v with %d bytes unread", b.closed, b.Len())
			}
			if tt.status == 0 {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			var se *outbox.SendError
			if !errors.As(err, &se) {
				t.Fatalf("got %T %v, want a *outbox.SendError", err, err)
			}
			if se.Status != tt.status || se.RetryAfter != tt.retryAfter || se.Permanent {
				t.Errorf("got status %d RetryAfter %v Permanent %v, want %d %v false", se.Status, se.RetryAfter, se.Permanent, tt.status, tt.retryAfter)
			}
			if se.Err == nil || se.Err.Error() != tt.err {
				t.Errorf("Err = %v, want %q", se.Err, tt.err)
			}
			if strings.Contains(err.Error(), "12345") || strings.Contains(err.Error(), "robot") {
				t.Errorf("error shows the server's diagnostics: %v", err)
			}
		})
	}
}

func TestClassifyKeepsResponse(t *testing.T) {
	err := Classify("PUT Patient", response(422, "application/fhir+json", outcome), nil)
	var se *outbox.SendError
	if !errors.As(err, &se) || string(se.Response) != outcome {
		t.Fatalf("Response = %q, want the OperationOutcome", se.Response)
	}

	big := strings.Repeat("x", outbox.MaxResponse+100)
	resp := response(500, "text/plain", big)
	err = Classify("PUT Patient", resp, nil)
	if !errors.As(err, &se) || len(se.Response) != outbox.MaxResponse {
		t.Errorf("Response of %d bytes, want %d", len(se.Response), outbox.MaxResponse)
	}

	huge := strings.Repeat("x", outbox.MaxResponse+maxDrain+100)
	resp = response(500, "text/plain", huge)
	_ = Classify("PUT Patient", resp, nil)
	if b := resp.Body.(*body1); !b.closed {
		t.Error("body of a huge answer not closed")
	}
}

func TestClassifyNoResponse(t *testing.T) {
	tests := []struct {
		name string
		err  error
		is   error
	}{
		{"refused", &url.Error{Op: "Put", URL: "http://h/fhir/Patient?identifier=urn:mrn%7C12345", Err: errors.New("dial tcp: connection refused")}, nil},
		{"deadline", &url.Error{Op: "Put", URL: "http://h/fhir/Patient?identifier=urn:mrn%7C12345", Err: context.DeadlineExceeded}, context.DeadlineExceeded},
		{"canceled", fmt.Errorf("wrapped: %w", &url.Error{Op: "Put", URL: "http://h/x?mrn=12345", Err: context.Canceled}), context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Classify("conditional PUT Patient", nil, tt.err)
			var se *outbox.SendError
			if !errors.As(err, &se) || se.Status != 0 {
				t.Fatalf("got %v, want a SendError with status 0", err)
			}
			if strings.Contains(err.Error(), "12345") || strings.Contains(err.Error(), "http://") {
				t.Errorf("error shows the URL: %v", err)
			}
			if !strings.HasPrefix(err.Error(), "conditional PUT Patient: ") {
				t.Errorf("error %q does not name the request", err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
		})
	}
}

func TestIgnoreAbsent(t *testing.T) {
	other := errors.New("other")
	tests := []struct {
		err  error
		want error
	}{
		{nil, nil},
		{&outbox.SendError{Status: 404}, nil},
		{&outbox.SendError{Status: 410}, nil},
		{&outbox.SendError{Status: 0}, &outbox.SendError{Status: 0}},
		{&outbox.SendError{Status: 503}, &outbox.SendError{Status: 503}},
		{other, other},
	}
	for _, tt := range tests {
		got := IgnoreAbsent(tt.err)
		if (got == nil) != (tt.want == nil) {
			t.Errorf("IgnoreAbsent(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestToken(t *testing.T) {
	long := strings.Repeat("é", 100)
	got := token(long)
	if !strings.HasSuffix(got, "…") || len(got) > 130 || !strings.HasPrefix(got, "é") {
		t.Errorf("token(long) = %q", got)
	}
	if got := token("a\nb"); got != "a b" {
		t.Errorf("token = %q", got)
	}
}

// TestClassifyRedirect: a PUT that http.Client follows as a GET has not
// been delivered, whatever the GET gets.
func TestClassifyRedirect(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/new", http.StatusMovedPermanently)
		case "/kept":
			http.Redirect(w, r, "/new", http.StatusPermanentRedirect)
		default:
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusOK)
		}
	}))
	defer ts.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	tests := []struct {
		path   string
		status int // 0: want nil
	}{
		{"/moved", http.StatusMovedPermanently},
		{"/kept", 0},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPut, ts.URL+tt.path, strings.NewReader(`{"mrn":"12345"}`))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.Do(req)
			err = Classify("PUT Patient", resp, err)
			if tt.status == 0 {
				if err != nil {
					t.Errorf("got %v, want nil", err)
				}
				return
			}
			var se *outbox.SendError
			if !errors.As(err, &se) || se.Status != tt.status {
				t.Fatalf("got %v, want a SendError with status %d", err, tt.status)
			}
			if strings.Contains(err.Error(), ts.URL) || strings.Contains(err.Error(), "12345") {
				t.Errorf("error shows the URL or body: %v", err)
			}
		})
	}
}

// FuzzRetryAfter: any header value gives a wait of whole seconds between
// 0 and MaxRetryAfter, and delay-seconds read back as written.
func FuzzRetryAfter(f *testing.F) {
	now := time.Date(2024, 6, 15, 13, 30, 0, 0, time.UTC)
	for _, s := range []string{"7", "0", "-1", "1e3", "Sat, 15 Jun 2024 13:31:00 GMT", "99999999999999999999", " 5 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d := RetryAfter(v, now)
		if d < 0 || d > MaxRetryAfter || d%time.Second != 0 {
			t.Fatalf("RetryAfter(%q) = %v", v, d)
		}
		if d > 0 && d < MaxRetryAfter {
			if n := strings.TrimSpace(v); strings.Trim(n, "0123456789") == "" && RetryAfter(fmt.Sprint(int64(d/time.Second)), now) != d {
				t.Fatalf("RetryAfter(%q) = %v does not read back", v, d)
			}
		}
	})
}
