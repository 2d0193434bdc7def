package transform

import (
	"errors"
	"fmt"
	"strings"
)

// Error is a mapping error with its place: for a load error the file, line
// and column and the rule path ("rules.telecom.value"); for a run error the
// rule path and the input paths the failing rule read ("input.phones[1].type").
// It never holds input values: they may be patient data.
type Error struct {
	File  string
	Line  int // 1-based; 0 when not known
	Col   int // 1-based; 0 when not known
	Rule  string
	Input []string
	Err   error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", e.Line, e.Col)
		}
		b.WriteString(": ")
	}
	if e.Rule != "" {
		b.WriteString(e.Rule)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	if len(e.Input) > 0 {
		b.WriteString(" (input ")
		b.WriteString(strings.Join(e.Input, ", "))
		b.WriteString(")")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNotFound is returned by Set.Get and Run when no mapping has that name;
// the caller answers 404 or lists the mappings it has.
var ErrNotFound = errors.New("mapping not found")

// ErrInvalidOutput wraps the validation issues of a mapping whose FHIR
// output does not validate; errors.As to fhir.Issues gives them.
var ErrInvalidOutput = errors.New("output is not valid FHIR")

// ErrInput is returned when the input cannot be read in the mapping's input
// format; the caller answers 400.
var ErrInput = errors.New("input cannot be read")
