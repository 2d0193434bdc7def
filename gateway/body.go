package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/liaisonhq/liaison/fhir"
)

// readBody reads the request body, at most limit bytes (413 beyond).
func readBody(c echo.Context, limit int64) ([]byte, error) {
	r := http.MaxBytesReader(c.Response(), c.Request().Body, limit)
	data, err := io.ReadAll(r)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, err
		}
		return nil, &statusError{status: http.StatusBadRequest, issue: fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueStructure, Diagnostics: "request body could not be read"}, err: err}
	}
	return data, nil
}

// mediaType is the request's Content-Type without parameters, "" when absent.
func mediaType(c echo.Context) string {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "invalid"
	}
	return mt
}

// unsupportedType is the 415 for a Content-Type a call does not take.
func unsupportedType(got string, want ...string) error {
	return &statusError{status: http.StatusUnsupportedMediaType, issue: fhir.Issue{
		Severity: fhir.SeverityError, Code: fhir.IssueNotSupported,
		Diagnostics: fmt.Sprintf("Content-Type %q is not taken here: send %v", got, want),
	}}
}

// readJSONBody reads a JSON request body: application/json (or
// application/fhir+json, or no Content-Type), valid UTF-8, well-formed.
// Syntax errors say where they are.
func readJSONBody(c echo.Context, limit int64) ([]byte, error) {
	switch mt := mediaType(c); mt {
	case "", echo.MIMEApplicationJSON, mimeFHIRJSON:
	default:
		return nil, unsupportedType(mt, echo.MIMEApplicationJSON)
	}
	data, err := readBody(c, limit)
	if err != nil {
		return nil, err
	}
	if err := checkJSON(data); err != nil {
		return nil, err
	}
	return data, nil
}

// maxJSONDepth bounds the nesting of JSON bodies.
const maxJSONDepth = 64

// checkJSON tells what is wrong with a JSON body, and where: invalid
// UTF-8, a syntax error, nesting deeper than maxJSONDepth, trailing data.
// A good body is checked without allocating; only a bad one is walked
// token by token (jsonProblem) to say where it goes wrong.
func checkJSON(data []byte) error {
	if utf8.Valid(data) && json.Valid(data) && depthWithin(data, maxJSONDepth) {
		return nil
	}
	return jsonProblem(data)
}

// jsonProblem walks data token by token and tells what is wrong with it,
// and where; nil when nothing is.
func jsonProblem(data []byte) error {
	bad := func(offset int64, what string) error {
		line, col := position(data, offset)
		return &statusError{status: http.StatusBadRequest, issue: fhir.Issue{
			Severity: fhir.SeverityError, Code: fhir.IssueStructure,
			Diagnostics: fmt.Sprintf("body is not valid JSON: line %d, column %d: %s", line, col, what),
		}}
	}
	if !utf8.Valid(data) {
		i := 0
		for i < len(data) {
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			i += size
		}
		return bad(int64(i), "invalid UTF-8")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return bad(0, "empty body")
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber() // a number too large for a float64 is still JSON
	depth := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if depth > 0 { // Token stops quietly between the tokens of an unclosed value
				return bad(int64(len(data)), "unexpected end of input")
			}
			return nil
		}
		if err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return bad(se.Offset, se.Error())
			}
			return bad(d.InputOffset(), "unexpected end of input")
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if depth++; depth > maxJSONDepth {
				return bad(d.InputOffset(), fmt.Sprintf("nested deeper than %d levels", maxJSONDepth))
			}
		case json.Delim('}'), json.Delim(']'):
			depth--
			if depth == 0 && d.More() {
				return bad(d.InputOffset(), "more than one JSON value")
			}
		}
	}
}

// depthWithin tells whether the objects and arrays of valid JSON nest at
// most max deep.
func depthWithin(data []byte, max int) bool {
	depth, inString, escaped := 0, false, false
	for _, c := range data {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > max {
				return false
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return true
}

// position turns a byte offset into a 1-based line and column.
func position(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// validName tells whether s can name a record type or id in a path and in
// the store's keys: 1 to 128 visible characters, no "/" or control characters.
func validName(s string) bool {
	if s == "" || len(s) > 128 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '/' {
			return false
		}
	}
	return true
}
