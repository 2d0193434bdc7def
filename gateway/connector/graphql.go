package connector

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
)

// GraphQLOptions are the mutations of a graphql connector, its "graphql"
// object:
//
//	"graphql": { "mutation": "file:/etc/liaison/upsert-patient.graphql",
//	  "inputVariable": "input",
//	  "deleteMutation": "mutation DeletePatient($id: ID!) { deletePatient(id: $id) { id } }",
//	  "retryCodes": ["INTERNAL_SERVER_ERROR", "RATE_LIMITED"] }
//
// Mutation and DeleteMutation are a GraphQL document, or "file:PATH", a
// file holding one, that ResolveText reads; they are not secrets.
// Validate checks names and the form of references; the documents
// themselves are checked when the connector starts (the graphql adapter
// parses them).
type GraphQLOptions struct {
	// Mutation is the document sent for upserts, with the record as its
	// variables. Required.
	Mutation string `json:"mutation,omitempty" yaml:"mutation,omitempty"`
	// OperationName names the operation of Mutation to run; required when
	// Mutation holds several. Default: its one operation.
	OperationName string `json:"operationName,omitempty" yaml:"operationName,omitempty"`
	// InputVariable, when set, sends the record (any JSON value) as that
	// one variable, {"input": record}. Default "": the record, a JSON
	// object, is the variables object.
	InputVariable string `json:"inputVariable,omitempty" yaml:"inputVariable,omitempty"`
	// DeleteMutation is the document sent for deletes, with the variables
	// {"id": record id}. Default "": deletes are dead-lettered.
	DeleteMutation string `json:"deleteMutation,omitempty" yaml:"deleteMutation,omitempty"`
	// DeleteOperationName is OperationName for DeleteMutation.
	DeleteOperationName string `json:"deleteOperationName,omitempty" yaml:"deleteOperationName,omitempty"`
	// RetryCodes are the extensions.code values of transient errors: an
	// answer whose errors all have one of them is retried. Default (nil):
	// INTERNAL_SERVER_ERROR, SERVICE_UNAVAILABLE, TIMEOUT, RATE_LIMITED and
	// THROTTLED.
	RetryCodes []string `json:"retryCodes,omitempty" yaml:"retryCodes,omitempty"`
}

// graphql reads GraphQLOptions; null is nil.
func (d *decoder) graphql(path string, n *node) *GraphQLOptions {
	if n.kind == nullKind {
		d.visit(path, n)
		return nil
	}
	g := new(GraphQLOptions)
	d.object(path, n, fields{
		"mutation":            func(p string, v *node) { g.Mutation = d.str(p, v) },
		"operationName":       func(p string, v *node) { g.OperationName = d.str(p, v) },
		"inputVariable":       func(p string, v *node) { g.InputVariable = d.str(p, v) },
		"deleteMutation":      func(p string, v *node) { g.DeleteMutation = d.str(p, v) },
		"deleteOperationName": func(p string, v *node) { g.DeleteOperationName = d.str(p, v) },
		"retryCodes":          func(p string, v *node) { g.RetryCodes = d.list(p, v) },
	})
	return g
}

// graphql checks the graphql settings g of a connector of type t: a
// graphql connector needs its mutation; other types take none.
func (p *problems) graphql(t Type, g *GraphQLOptions) {
	if t != GraphQL {
		if g != nil && slices.Contains(types, t) {
			p.addf("graphql", "only used by type graphql (the type is %s)", t)
		}
		return
	}
	if g == nil || strings.TrimSpace(g.Mutation) == "" {
		p.add("graphql.mutation", fmt.Errorf("%w for type graphql: the GraphQL mutation to send, or file:PATH", ErrRequired))
	} else {
		p.document("graphql.mutation", g.Mutation)
	}
	if g == nil {
		return
	}
	switch {
	case g.DeleteMutation != "":
		p.document("graphql.deleteMutation", g.DeleteMutation)
	case g.DeleteOperationName != "":
		p.addf("graphql.deleteOperationName", "only used with a deleteMutation")
	}
	for _, f := range []struct{ name, v string }{
		{"operationName", g.OperationName},
		{"inputVariable", g.InputVariable},
		{"deleteOperationName", g.DeleteOperationName},
	} {
		if f.v != "" && !graphqlName(f.v) {
			p.addf("graphql."+f.name, "want a GraphQL name: a letter or '_', then letters, digits or '_'")
		}
	}
	for i, code := range g.RetryCodes {
		switch {
		case code == "":
			p.add(indexPath("graphql.retryCodes", i), errors.New("empty code"))
		case strings.ContainsFunc(code, isSpaceOrControl):
			p.add(indexPath("graphql.retryCodes", i), errors.New("contains white space or a control character"))
		}
	}
}

// document checks a GraphQL document or a file: reference to one, at
// path, without reading the file.
func (p *problems) document(path, v string) {
	switch {
	case strings.TrimSpace(v) == "":
		p.addf(path, "empty document")
	case v == "file:":
		p.addf(path, "file: reference: want a path after file:")
	}
}

// graphqlName reports whether s is a GraphQL Name, /[_A-Za-z][_0-9A-Za-z]*/.
func graphqlName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return s != ""
}

// ResolveText returns the text that ref stands for, for settings that
// may be kept in a file but are not secrets (GraphQLOptions' documents):
//
//   - "file:PATH": the file's content, as it is; a relative PATH is
//     relative to the working directory; an empty file is an error;
//   - anything else: ref itself.
//
// Errors name the file. ResolveText reads the file afresh on each call.
func ResolveText(ref string) (string, error) {
	path, ok := strings.CutPrefix(ref, "file:")
	if !ok {
		return ref, nil
	}
	if path == "" {
		return "", errors.New("reference: file: wants a path")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is in the message already
		}
		return "", fmt.Errorf("reference file:%s: %w", path, err)
	}
	if len(b) == 0 {
		return "", fmt.Errorf("reference file:%s: the file is empty", path)
	}
	return string(b), nil
}
