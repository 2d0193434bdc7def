package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/liaisonhq/liaison/fhir"
	"github.com/liaisonhq/liaison/transform"
)

// Media types beyond Echo's.
const (
	mimeFHIRXML = "application/fhir+xml"
	mimeHL7v2   = "x-application/hl7-v2+er7"
	mimeCSV     = "text/csv"
)

// inputTypes are the Content-Types each input format takes ("" is always
// taken: the mapping knows its format).
var inputTypes = map[transform.Format][]string{
	transform.FormatJSON:  {echo.MIMEApplicationJSON, mimeFHIRJSON},
	transform.FormatFHIR:  {mimeFHIRJSON, mimeFHIRXML, echo.MIMEApplicationJSON, echo.MIMEApplicationXML},
	transform.FormatXML:   {echo.MIMEApplicationXML, "text/xml"},
	transform.FormatCSV:   {mimeCSV, echo.MIMETextPlain},
	transform.FormatHL7v2: {mimeHL7v2, "application/hl7-v2", echo.MIMETextPlain},
}

// translate handles POST /api/translate/{mapping}: a pure translation, no
// side effects. The input's Content-Type must suit the mapping's input
// format; the output is the mapping's, or for FHIR output what Accept asks
// (application/fhir+json or application/fhir+xml). Inputs holding several
// records (CSV) answer a JSON array, or a FHIR collection Bundle.
func (g *Gateway) translate(c echo.Context) error {
	m, data, err := g.mappingInput(c, "mapping")
	if err != nil {
		return err
	}
	ctype := contentType(m.Output)
	if m.Output == transform.FormatFHIR || m.Output == transform.FormatFHIRXML {
		want, ok := negotiate(c.Request().Header.Get(echo.HeaderAccept), ctype)
		if !ok {
			return &statusError{status: http.StatusNotAcceptable, issue: fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueNotSupported,
				Diagnostics: "this mapping answers application/fhir+json or application/fhir+xml"}}
		}
		resources, err := mapResources(m, data)
		if err != nil {
			return translateError(err)
		}
		return g.writeFHIR(c, resources, want)
	}
	outs, err := m.Translate(data)
	if err != nil {
		return translateError(err)
	}
	if len(outs) == 1 {
		return c.Blob(http.StatusOK, ctype, outs[0])
	}
	if m.Output != transform.FormatJSON {
		texts := make([]string, len(outs))
		for i, o := range outs {
			texts[i] = string(o)
		}
		return c.JSON(http.StatusOK, texts)
	}
	raw := make([]json.RawMessage, len(outs))
	for i, o := range outs {
		raw[i] = o
	}
	return c.JSON(http.StatusOK, raw)
}

// mappingInput finds the mapping the path parameter names and reads the
// request body as its input: a Content-Type that suits the mapping's input
// format (or none), a body within the size limit, and for JSON input
// well-formed UTF-8 — the JSON decoder would turn invalid UTF-8 into
// U+FFFD and answer 200 with the text changed.
func (g *Gateway) mappingInput(c echo.Context, param string) (*transform.Mapping, []byte, error) {
	m, err := g.mappings.Get(c.Param(param))
	if err != nil {
		return nil, nil, &statusError{status: http.StatusNotFound, issue: fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueNotFound, Diagnostics: "no mapping named " + quoteName(c.Param(param))}}
	}
	if mt := mediaType(c); mt != "" && !contains(inputTypes[m.Input], mt) {
		return nil, nil, unsupportedType(mt, inputTypes[m.Input]...)
	}
	data, err := readBody(c, g.cfg.MaxBody)
	if err != nil {
		return nil, nil, err
	}
	if m.Input == transform.FormatJSON {
		if err := checkJSON(data); err != nil {
			return nil, nil, err
		}
	}
	return m, data, nil
}

// writeFHIR answers FHIR outputs in the negotiated format: one resource,
// or a collection Bundle of several.
func (g *Gateway) writeFHIR(c echo.Context, resources []fhir.Resource, ctype string) error {
	res := resources[0]
	if len(resources) != 1 {
		entries := make([]any, len(resources))
		for i, r := range resources {
			entries[i] = map[string]any{"fullUrl": "urn:uuid:" + fhir.NewUUID(), "resource": map[string]any(r)}
		}
		res = fhir.Resource{"resourceType": "Bundle", "type": "collection", "entry": entries}
	}
	var body []byte
	var err error
	if ctype == mimeFHIRXML {
		body, err = fhir.EncodeXML(res)
	} else {
		body, err = fhir.EncodeJSON(res)
	}
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, ctype, body)
}

// mapResources maps each record of the input with a FHIR-output mapping
// and checks the resources, keeping them as values: they are encoded once,
// in the format the caller asked for.
func mapResources(m *transform.Mapping, data []byte) ([]fhir.Resource, error) {
	records, err := m.Decode(data)
	if err != nil {
		return nil, err
	}
	out := make([]fhir.Resource, 0, len(records))
	for _, rec := range records {
		v, err := m.Map(rec)
		if err != nil {
			return nil, err
		}
		if err := m.Check(v); err != nil {
			return nil, err
		}
		out = append(out, fhir.Resource(v.(map[string]any)))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no record in the input", transform.ErrInput)
	}
	return out, nil
}

// negotiate picks the FHIR format an Accept header asks for; def when it
// asks for anything.
func negotiate(accept, def string) (string, bool) {
	if strings.TrimSpace(accept) == "" {
		return def, true
	}
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case mimeFHIRJSON, echo.MIMEApplicationJSON:
			return mimeFHIRJSON, true
		case mimeFHIRXML, echo.MIMEApplicationXML:
			return mimeFHIRXML, true
		case "*/*", "application/*":
			return def, true
		}
	}
	return "", false
}

// translateError answers a failed translation: 400 for input that cannot
// be read, 422 for a mapping that fails on it or output that is not valid
// FHIR, with the rule and input paths (never values).
func translateError(err error) error {
	var issues fhir.Issues
	if errors.As(err, &issues) {
		return &issuesError{status: http.StatusUnprocessableEntity, issues: issues}
	}
	var syntax *fhir.SyntaxError
	if errors.As(err, &syntax) {
		return err
	}
	status, code := http.StatusUnprocessableEntity, fhir.IssueProcessing
	if errors.Is(err, transform.ErrInput) {
		status, code = http.StatusBadRequest, fhir.IssueStructure
	}
	is := fhir.Issue{Severity: fhir.SeverityError, Code: code, Diagnostics: err.Error()}
	var te *transform.Error
	if errors.As(err, &te) {
		is.Expression = te.Input
	}
	return &statusError{status: status, issue: is}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// quoteName quotes a name from a path for a message, cut short.
func quoteName(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + strings.Map(func(r rune) rune {
		if r < 0x20 || r == '"' {
			return '?'
		}
		return r
	}, s) + `"`
}
