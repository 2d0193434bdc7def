package gateway

import (
	"strings"
	"testing"
)

func TestCheckJSON(t *testing.T) {
	tests := []struct {
		name, body string
		problem    string // "" for a good body
	}{
		{"object", `{"appointmentId":"A1","durationMin":15,"tags":["a\"]",{"b":null}]}`, ""},
		{"scalar", ` 5 `, ""},
		{"escaped brackets in strings", `{"s":"[[[{{{\\\"]]]"}`, ""},
		{"nested 64 deep", strings.Repeat("[", 64) + strings.Repeat("]", 64), ""},
		{"nested 65 deep", strings.Repeat("[", 65) + strings.Repeat("]", 65), "nested deeper than 64 levels"},
		{"empty", " \n", "empty body"},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", "line 1, column 7: invalid UTF-8"},
		{"syntax error", "{\n\"a\" 1}", "line 2, column 5"},
		{"truncated", `{"a":`, "unexpected end of input"},
		{"two values", `{"a":1}{"b":2}`, "more than one JSON value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkJSON([]byte(tt.body))
			switch {
			case tt.problem == "" && err != nil:
				t.Errorf("checkJSON(%q) = %v, want nil", tt.body, err)
			case tt.problem != "" && (err == nil || !strings.Contains(err.Error(), tt.problem)):
				t.Errorf("checkJSON(%q) = %v, want %q", tt.body, err, tt.problem)
			}
		})
	}
}

// The fast check accepts only what the token walk accepts.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":"c\"]"}]}`, `[[[]]]`, `"x"`, `{"a":1}{"b":2}`, "{\"a\":\"\xff\"}", ``, `1 2`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if checkJSON(data) == nil && jsonProblem(data) != nil {
			t.Errorf("checkJSON accepts %q, which jsonProblem refuses: %v", data, jsonProblem(data))
		}
	})
}
