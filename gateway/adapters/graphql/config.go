package graphql

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/liaisonhq/liaison/gateway/connector"
)

// defaultTimeout bounds one attempt when the connector's policy does not.
const defaultTimeout = 30 * time.Second

// Options are the settings of a GraphQL connector that connector.Config
// has no field for. Documents are checked when the Client is made: their
// syntax as far as tokens, brackets and definitions go, the operation to
// run, and the variables it must declare.
type Options struct {
	// Mutation is the document sent for upserts: it holds the mutation
	// to run and declares its variables. Required.
	Mutation string
	// OperationName names the operation of Mutation to run; required when
	// Mutation holds several operations. Default: the one operation's own
	// name (sent as operationName when it has one).
	OperationName string
	// InputVariable, when set, sends the message body (any JSON value) as
	// that one variable, {"input": body}; Mutation must declare it.
	// Default "": the body, which must then be a JSON object, is the
	// variables object itself.
	InputVariable string
	// DeleteMutation is the document sent for deletes, with the variables
	// {"id": record id}; it must declare $id. Default "": deletes are
	// Permanent errors.
	DeleteMutation string
	// DeleteOperationName is OperationName for DeleteMutation.
	DeleteOperationName string
	// RetryCodes are the extensions.code values of transient errors: an
	// answer whose errors all have one of them is retried. Default
	// INTERNAL_SERVER_ERROR, SERVICE_UNAVAILABLE, TIMEOUT, RATE_LIMITED
	// and THROTTLED.
	RetryCodes []string
}

// defaultRetryCodes is the default of Options.RetryCodes.
var defaultRetryCodes = []string{"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE", "TIMEOUT", "RATE_LIMITED", "THROTTLED"}

// config is what the adapter takes from a connector.Config and Options,
// checked, with defaults filled in.
type config struct {
	endpoint string
	timeout  time.Duration // bounds one attempt: Delivery.Timeout, default 30s
	upsert   document
	delete   *document // nil: deletes are not delivered
	input    string    // Options.InputVariable
	retry    map[string]bool
}

// document is a checked document and the operation to run in it.
type document struct {
	text          string
	operationName string // sent as operationName; "" for none
	op            string // names requests in errors: "POST mutation UpsertPatient"
}

// newConfig reads cfg and opts, fills defaults and validates the result,
// without I/O.
func newConfig(cfg connector.Config, opts Options) (config, error) {
	if cfg.Type != "" && !strings.EqualFold(string(cfg.Type), string(connector.GraphQL)) {
		return config{}, fmt.Errorf("connector type %q is not %q", cfg.Type, connector.GraphQL)
	}
	c := config{
		endpoint: strings.TrimSpace(cfg.Endpoint),
		timeout:  time.Duration(cfg.Delivery.Timeout),
		input:    opts.InputVariable,
		retry:    map[string]bool{},
	}
	if c.timeout <= 0 {
		c.timeout = defaultTimeout
	}
	if err := validateEndpoint(c.endpoint); err != nil {
		return config{}, err
	}
	if c.input != "" && !isName(c.input) {
		return config{}, errors.New("inputVariable: want a GraphQL name")
	}
	var err error
	var need []string
	if c.input != "" {
		need = []string{c.input}
	}
	if c.upsert, err = checkDocument("mutation", opts.Mutation, opts.OperationName, need); err != nil {
		return config{}, err
	}
	if opts.DeleteMutation != "" {
		d, err := checkDocument("deleteMutation", opts.DeleteMutation, opts.DeleteOperationName, []string{"id"})
		if err != nil {
			return config{}, err
		}
		c.delete = &d
	} else if opts.DeleteOperationName != "" {
		return config{}, errors.New("deleteOperationName without a deleteMutation")
	}
	codes := opts.RetryCodes
	if codes == nil {
		codes = defaultRetryCodes
	}
	for _, code := range codes {
		c.retry[code] = true
	}
	return c, nil
}

// checkDocument checks the document text, given as the option field, and
// picks the mutation to run: the one operationName names, else the only
// operation. That mutation must declare the variables in need.
func checkDocument(field, text, operationName string, need []string) (document, error) {
	if strings.TrimSpace(text) == "" {
		return document{}, fmt.Errorf("%s: missing: want the GraphQL mutation to send", field)
	}
	ops, err := operations(text)
	if err != nil {
		return document{}, fmt.Errorf("%s: not a GraphQL document: %w", field, err)
	}
	var op *operation
	switch {
	case operationName != "":
		for i := range ops {
			if ops[i].name == operationName {
				op = &ops[i]
				break
			}
		}
		if op == nil {
			return document{}, fmt.Errorf("%s: no operation named %q", field, operationName)
		}
	case len(ops) == 1:
		op = &ops[0]
	case len(ops) == 0:
		return document{}, fmt.Errorf("%s: holds no operation", field)
	default:
		return document{}, fmt.Errorf("%s: holds %d operations: name the one to run", field, len(ops))
	}
	if op.kind != "mutation" {
		return document{}, fmt.Errorf("%s: the operation is a %s, not a mutation", field, op.kind)
	}
	for _, v := range need {
		if !op.declares(v) {
			return document{}, fmt.Errorf("%s: the mutation does not declare $%s", field, v)
		}
	}
	d := document{text: text, operationName: op.name, op: "POST mutation"}
	if op.name != "" {
		d.op += " " + op.name
	}
	return d, nil
}

// validateEndpoint checks that the endpoint is an absolute http(s) URL
// with a host, without credentials or a fragment.
func validateEndpoint(endpoint string) error {
	if endpoint == "" {
		return errors.New("endpoint: missing: expected the GraphQL endpoint's URL")
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return errors.New("endpoint: not a URL") // url's error quotes it
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("endpoint: expected an http or https URL")
	case u.Host == "":
		return errors.New("endpoint: no host")
	case u.User != nil:
		return errors.New("endpoint: credentials in the URL: give them as auth")
	case u.Fragment != "" || strings.Contains(endpoint, "#"):
		return errors.New("endpoint: has a fragment")
	}
	return nil
}

// isName tells whether s is a GraphQL Name: /[_A-Za-z][_0-9A-Za-z]*/.
func isName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
