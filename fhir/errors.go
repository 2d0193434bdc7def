package fhir

import (
	"errors"
	"fmt"
)

// SyntaxError is returned by the decoders when the bytes are not well-formed
// JSON or XML, or are not a resource at all. Line and Col are 1-based and
// count bytes. The caller answers with a 400 and the error's Issue.
type SyntaxError struct {
	Format string // "json" or "xml"
	Line   int
	Col    int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s: line %d, col %d: %s", e.Format, e.Line, e.Col, e.Msg)
}

// Issue renders the error as an OperationOutcome issue whose expression is
// the position ("line 3, col 14").
func (e *SyntaxError) Issue() Issue {
	return Issue{
		Severity:    SeverityError,
		Code:        IssueStructure,
		Diagnostics: e.Error(),
		Expression:  []string{fmt.Sprintf("line %d, col %d", e.Line, e.Col)},
	}
}

// ErrUnknownFormat is returned by Parse when the bytes start like neither
// JSON nor XML; the caller asks for application/fhir+json or +xml.
var ErrUnknownFormat = errors.New("not FHIR JSON or XML: expected '{' or '<'")

// lineCol turns a byte offset into a 1-based line and column.
func lineCol(data []byte, off int) (line, col int) {
	if off > len(data) {
		off = len(data)
	}
	line, col = 1, 1
	for _, c := range data[:off] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}
