package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/labstack/echo/v4"
)

// The answer to an accepted record is written by hand (writeResult); it
// must say what encoding/json would say, whatever the record's type and
// id hold, and keep Echo's ?pretty.
func TestWriteResultMatchesEncodingJSON(t *testing.T) {
	results := []*result{
		{Type: "Appointment", ID: "A1", Version: 1, Status: "accepted", Messages: []string{"0000000000000001"}},
		{Type: "Patient", ID: "MRN-7", Version: 12, Status: "unchanged"},
		{Type: "Appointment", ID: `quote" back\slash <tag> & é 漢 ` + "\u2028 \x7f", Version: 3, Status: "deleted", Messages: []string{"a", "b"}},
		{Type: "Appointment", ID: "invalid \xff utf-8", Version: 9223372036854775807, Status: "accepted"},
	}
	e := echo.New()
	for _, r := range results {
		for _, query := range []string{"", "?pretty", "?source=prettyapp"} {
			req := httptest.NewRequest(http.MethodPost, "/api/records/"+r.Type+query, nil)
			rec := httptest.NewRecorder()
			if err := writeResult(e.NewContext(req, rec), http.StatusAccepted, r); err != nil {
				t.Fatal(err)
			}
			if rec.Code != http.StatusAccepted || rec.Header().Get(echo.HeaderContentType) != echo.MIMEApplicationJSON {
				t.Fatalf("%q: status %d, content type %q", r.ID, rec.Code, rec.Header().Get(echo.HeaderContentType))
			}
			want, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			var got, expected map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("%q%s: answer is not JSON: %v\n%s", r.ID, query, err, rec.Body)
			}
			if err := json.Unmarshal(want, &expected); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, expected) {
				t.Errorf("%q%s: answer %s, encoding/json %s", r.ID, query, rec.Body, want)
			}
			if indented := bytes.Contains(rec.Body.Bytes(), []byte("\n  ")); indented != (query == "?pretty") {
				t.Errorf("%q%s: indented %v: %s", r.ID, query, indented, rec.Body)
			}
		}
	}
}
