package transform

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"
)

// Input values are patient data: a runtime error names the rule and the
// input paths it read, never what it found there. The built-in functions
// of this package write their errors that way; expr's own (date, int,
// float, …) and Go's parsers quote the value, so their messages are
// rewritten here before they leave an expression.

// valueShapes match the places where expr's and Go's messages print a
// value, and what each becomes.
var valueShapes = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`"(?:[^"\\]|\\.)*"`), `"…"`},
	{regexp.MustCompile("`[^`]*`"), "`…`"},
	{regexp.MustCompile(`^(invalid operation: \w+)\(.*\)`), "$1(…)"},
	{regexp.MustCompile(`^cannot (fetch|get) .* from `), "cannot $1 … from "},
	{regexp.MustCompile(`^(cannot slice|invalid date|unknown time zone) .*`), "$1"},
}

// safeMessage is the text of an expression's runtime error without the
// input values it may quote. The layout of a time parse comes from the
// mapping and stays.
func safeMessage(err error) string {
	var pe *time.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("text is not a time in the layout %q", pe.Layout)
	}
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		if errors.Is(ne.Err, strconv.ErrRange) {
			return "number out of range"
		}
		return "text is not a number"
	}
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 { // expr appends the source excerpt
		msg = msg[:i]
	}
	var se *syntax.Error
	if errors.As(err, &se) {
		return "regular expression: " + string(se.Code)
	}
	for _, shape := range valueShapes {
		msg = shape.re.ReplaceAllString(msg, shape.with)
	}
	return msg
}
