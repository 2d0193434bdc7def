package fhir

import (
	"errors"
	"strings"
)

// Severity is an OperationOutcome issue severity (hl7.org/fhir/R4/valueset-issue-severity.html).
type Severity string

const (
	SeverityFatal       Severity = "fatal"
	SeverityError       Severity = "error"
	SeverityWarning     Severity = "warning"
	SeverityInformation Severity = "information"
)

// IssueType is an OperationOutcome issue code (hl7.org/fhir/R4/valueset-issue-type.html).
type IssueType string

const (
	IssueInvalid      IssueType = "invalid"      // content invalid against the specification
	IssueStructure    IssueType = "structure"    // a structural issue: unknown element, wrong JSON type, bad syntax
	IssueRequired     IssueType = "required"     // a required element is missing
	IssueValue        IssueType = "value"        // an element's value is invalid (format, range)
	IssueInvariant    IssueType = "invariant"    // a content rule failed (two values for one choice)
	IssueCodeInvalid  IssueType = "code-invalid" // a code outside its required value set
	IssueSecurity     IssueType = "security"
	IssueLogin        IssueType = "login"
	IssueNotFound     IssueType = "not-found"
	IssueConflict     IssueType = "conflict"
	IssueTooCostly    IssueType = "too-costly"
	IssueTransient    IssueType = "transient"
	IssueException    IssueType = "exception"
	IssueProcessing   IssueType = "processing"
	IssueNotSupported IssueType = "not-supported"
)

// Issue is one OperationOutcome issue. Expression holds FHIRPath-style
// locations such as "Appointment.participant[1].status". Diagnostics never
// carries the value found, which may be patient data: only what is wrong.
type Issue struct {
	Severity    Severity  `json:"severity"`
	Code        IssueType `json:"code"`
	Diagnostics string    `json:"diagnostics,omitempty"`
	Expression  []string  `json:"expression,omitempty"`
}

// String renders the issue on one line: "error structure Patient.foo: unknown element".
func (i Issue) String() string {
	var b strings.Builder
	b.WriteString(string(i.Severity))
	b.WriteByte(' ')
	b.WriteString(string(i.Code))
	if len(i.Expression) > 0 {
		b.WriteByte(' ')
		b.WriteString(strings.Join(i.Expression, ", "))
	}
	if i.Diagnostics != "" {
		b.WriteString(": ")
		b.WriteString(i.Diagnostics)
	}
	return b.String()
}

// Issues is a list of OperationOutcome issues. As an error it stands for
// every issue of severity error or fatal; see Err.
type Issues []Issue

// HasErrors tells whether any issue is an error or fatal.
func (is Issues) HasErrors() bool {
	for _, i := range is {
		if i.Severity == SeverityError || i.Severity == SeverityFatal {
			return true
		}
	}
	return false
}

// Err returns the issues as an error when any is an error or fatal, else nil.
func (is Issues) Err() error {
	if is.HasErrors() {
		return is
	}
	return nil
}

// Error joins the issues, one per line.
func (is Issues) Error() string {
	lines := make([]string, len(is))
	for i, issue := range is {
		lines[i] = issue.String()
	}
	return strings.Join(lines, "\n")
}

// Outcome builds an OperationOutcome resource holding the issues. With no
// issues it holds one "information" issue saying all is well, since an
// OperationOutcome needs at least one.
func Outcome(issues ...Issue) Resource {
	if len(issues) == 0 {
		issues = []Issue{{Severity: SeverityInformation, Code: "informational", Diagnostics: "no issues"}}
	}
	list := make([]any, len(issues))
	for i, is := range issues {
		m := map[string]any{"severity": string(is.Severity), "code": string(is.Code)}
		if is.Diagnostics != "" {
			m["diagnostics"] = is.Diagnostics
		}
		if len(is.Expression) > 0 {
			ex := make([]any, len(is.Expression))
			for j, e := range is.Expression {
				ex[j] = e
			}
			m["expression"] = ex
		}
		list[i] = m
	}
	return Resource{"resourceType": "OperationOutcome", "issue": list}
}

// ErrorIssues turns an error from this package into issues: the issues of an
// Issues error, one structure issue at its line and column for a
// *SyntaxError, and one processing issue for anything else.
func ErrorIssues(err error) Issues {
	var is Issues
	if errors.As(err, &is) {
		return is
	}
	var se *SyntaxError
	if errors.As(err, &se) {
		return Issues{se.Issue()}
	}
	return Issues{{Severity: SeverityError, Code: IssueProcessing, Diagnostics: err.Error()}}
}
