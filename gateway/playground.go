package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/liaisonhq/liaison/fhir"
	"github.com/liaisonhq/liaison/transform"
)

// The mapping playground of the web console: run one mapping on an input
// and see its output, its issues and where each output field came from,
// as "liaison map explain" shows them. Nothing is stored or sent.

// explanation is the answer of POST /api/mappings/{name}/explain.
type explanation struct {
	Mapping string `json:"mapping"`
	Version string `json:"version"`
	// Output is what the rules produced: a JSON value for json and fhir
	// output (FHIR in its element order), the encoded text for the other
	// formats. When the mapping failed it is absent; when the output is not
	// valid it is the value the rules produced, as JSON.
	Output      any    `json:"output,omitempty"`
	ContentType string `json:"contentType,omitempty"` // of Output when it is encoded text
	// Valid tells whether the mapping ran and its output validates.
	Valid bool `json:"valid"`
	// Records is how many records the input held; the first is explained.
	Records int `json:"records"`
	// Issues is an OperationOutcome: the mapping's error (file:line:col,
	// rule and input paths, never input values) or the output's
	// validation issues; one information issue when there are none.
	Issues fhir.Resource `json:"issues"`
	// Trace is, for each output field, the rule (file:line) and the input
	// paths that produced it; up to the failing rule when one failed.
	Trace []transform.Trace `json:"trace"`
}

// explainMapping handles POST /api/mappings/{name}/explain. The body is
// one input in the mapping's input format (Content-Type as for translate).
// Like FHIR's $validate, a mapping that fails on the input, or an output
// that does not validate, is a 200 whose issues say why; an input that
// cannot be read is a 400, an unknown mapping a 404.
func (g *Gateway) explainMapping(c echo.Context) error {
	m, data, err := g.mappingInput(c, "name")
	if err != nil {
		return err
	}
	records, err := m.Decode(data)
	if err != nil {
		return translateError(err)
	}
	if len(records) == 0 {
		return translateError(fmt.Errorf("%w: no record in the input", transform.ErrInput))
	}
	defer g.metrics.mapped(m.Name, time.Now())
	out, traces, err := m.Explain(records[0])
	if err == nil {
		err = m.Check(out)
	}
	ex := explanation{Mapping: m.Name, Version: m.Version, Records: len(records), Trace: traces, Valid: err == nil}
	if ex.Trace == nil {
		ex.Trace = []transform.Trace{}
	}
	var te *transform.Error
	if err == nil || !errors.As(err, &te) {
		// The rules ran: show what they made, valid or not.
		ex.Output, ex.ContentType = explainedOutput(m, out, err == nil)
	}
	ex.Issues = fhir.Outcome(explainIssues(err)...)
	return c.JSON(http.StatusOK, ex)
}

// explainedOutput is the output as the playground shows it: encoded in the
// mapping's format when it is valid, else the value the rules produced (a
// resource in FHIR's element order).
func explainedOutput(m *transform.Mapping, out any, valid bool) (any, string) {
	if !valid {
		if obj, ok := out.(map[string]any); ok && (m.Output == transform.FormatFHIR || m.Output == transform.FormatFHIRXML) {
			if b, err := fhir.EncodeJSON(fhir.Resource(obj)); err == nil {
				return json.RawMessage(b), ""
			}
		}
		return out, ""
	}
	b, err := m.Encode(out)
	if err != nil {
		return out, ""
	}
	switch m.Output {
	case transform.FormatFHIR, transform.FormatJSON:
		return json.RawMessage(b), ""
	}
	return string(b), contentType(m.Output)
}

// explainIssues turns a failed explain into issues, as translate would
// answer them: a run error with its place and input paths, or the
// output's validation issues.
func explainIssues(err error) fhir.Issues {
	if err == nil {
		return nil
	}
	var issues fhir.Issues
	if errors.As(err, &issues) {
		return issues
	}
	is := fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueProcessing, Diagnostics: err.Error()}
	if errors.Is(err, transform.ErrInvalidOutput) {
		is.Code = fhir.IssueInvalid
	}
	var te *transform.Error
	if errors.As(err, &te) {
		is.Expression = te.Input
	}
	return fhir.Issues{is}
}

// mappingExamples handles GET /api/mappings/{name}/examples: the inputs of
// the tests written in the mapping file, as text in the mapping's input
// format, for the playground to start from. They are the file's own test
// data, never anything the gateway received.
func (g *Gateway) mappingExamples(c echo.Context) error {
	m, err := g.mappings.Get(c.Param("name"))
	if err != nil {
		return &statusError{status: http.StatusNotFound, issue: fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueNotFound, Diagnostics: "no mapping named " + quoteName(c.Param("name"))}}
	}
	type example struct {
		Name  string `json:"name"`
		Input string `json:"input"`
		Fails bool   `json:"fails"` // the test expects an error
	}
	out := []example{}
	for _, tc := range m.Tests {
		ex := example{Name: tc.Name, Fails: tc.Error != ""}
		if s, ok := tc.Input.(string); ok {
			ex.Input = s
		} else {
			b, err := json.MarshalIndent(tc.Input, "", "  ")
			if err != nil {
				continue // not JSON: no example to give
			}
			ex.Input = string(b)
		}
		out = append(out, ex)
	}
	return c.JSON(http.StatusOK, map[string]any{"mapping": m.Name, "version": m.Version, "input": m.Input, "output": m.Output, "examples": out})
}
