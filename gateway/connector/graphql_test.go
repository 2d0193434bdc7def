package connector

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const upsertPatient = `mutation UpsertPatient($input: PatientInput!) { upsertPatient(input: $input) { id } }`

// graphqlConfig returns a valid GraphQL Config with g.
func graphqlConfig(g *GraphQLOptions) Config {
	return Config{Name: "Portal", Type: GraphQL, Endpoint: "https://portal.test/graphql", GraphQL: g}
}

func TestParseGraphQL(t *testing.T) {
	want := graphqlConfig(&GraphQLOptions{
		Mutation: upsertPatient, OperationName: "UpsertPatient", InputVariable: "input",
		DeleteMutation: "file:/etc/liaison/delete.graphql", DeleteOperationName: "DeletePatient",
		RetryCodes: []string{"TIMEOUT", "RATE_LIMITED"},
	})
	body := `{"name": "Portal", "type": "GraphQL", "endpoint": "https://portal.test/graphql",
	  "graphql": {"mutation": "` + upsertPatient + `", "operationName": "UpsertPatient", "inputVariable": "input",
	    "deleteMutation": "file:/etc/liaison/delete.graphql", "deleteOperationName": "DeletePatient",
	    "retryCodes": ["TIMEOUT", "RATE_LIMITED"]}}`
	c, err := Parse([]byte(body))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Parse:\n got %+v\nwant %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}

	f, err := ParseFile("c.yaml", []byte(`connectors:
  - name: Portal
    type: graphql
    endpoint: https://portal.test/graphql
    graphql:
      mutation: |-
        `+upsertPatient+`
      operationName: UpsertPatient
      inputVariable: input
      deleteMutation: file:/etc/liaison/delete.graphql
      deleteOperationName: DeletePatient
      retryCodes: [TIMEOUT, RATE_LIMITED]
`))
	if err != nil {
		t.Fatalf("ParseFile: %v", err)
	}
	if !reflect.DeepEqual(f.Connectors[0], want) {
		t.Errorf("ParseFile:\n got %+v\nwant %+v", f.Connectors[0], want)
	}

	b, _ := json.Marshal(c)
	if c2, err := Parse(b); err != nil || !reflect.DeepEqual(c2, c) {
		t.Errorf("Parse(Marshal(c)) = %+v, %v", c2, err)
	}
	if r := c.Redacted(); !reflect.DeepEqual(r.GraphQL, c.GraphQL) {
		t.Errorf("Redacted changed graphql, which holds no secret: %+v", r.GraphQL)
	}
	r := c.Redacted()
	r.GraphQL.RetryCodes[0] = "changed"
	if c.GraphQL.RetryCodes[0] != "TIMEOUT" {
		t.Errorf("Redacted shares memory with the config")
	}
}

func TestParseGraphQLErrors(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		fields []string
		msg    string
	}{
		{"unknown field", `{"graphql": {"query": "x"}}`, []string{"graphql.query"}, "unknown field"},
		{"close to a field", `{"graphql": {"mutaton": "x"}}`, []string{"graphql.mutaton"}, `did you mean "mutation"?`},
		{"retryCodes a string", `{"graphql": {"retryCodes": "TIMEOUT"}}`, []string{"graphql.retryCodes"}, "want an array of strings"},
		{"mutation an object", `{"graphql": {"mutation": {}}}`, []string{"graphql.mutation"}, "want a string, got an object"},
		{"graphql an array", `{"graphql": []}`, []string{"graphql"}, "want an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.body))
			if err == nil {
				t.Fatal("Parse = nil error")
			}
			if got := fieldsOf(fieldErrors(t, err)); !slices.Equal(got, tt.fields) {
				t.Errorf("fields = %q, want %q; error:\n%v", got, tt.fields, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
		})
	}

	t.Run("missing mutation in a config file, at the entry", func(t *testing.T) {
		_, err := ParseFile("c.yaml", []byte("connectors:\n  - name: a\n    type: graphql\n    endpoint: https://x.test\n"))
		want := "c.yaml:2:5: connectors[0].graphql.mutation: required for type graphql: the GraphQL mutation to send, or file:PATH"
		if err == nil || err.Error() != want {
			t.Errorf("ParseFile error:\n%v\nwant:\n%s", err, want)
		}
	})
}

func TestValidateGraphQL(t *testing.T) {
	full := func() *GraphQLOptions {
		return &GraphQLOptions{
			Mutation: upsertPatient, OperationName: "UpsertPatient", InputVariable: "input",
			DeleteMutation: "file:delete.graphql", DeleteOperationName: "DeletePatient", RetryCodes: []string{"TIMEOUT"},
		}
	}
	tests := []struct {
		name   string
		edit   func(c *Config)
		fields []string // nil for no error
		msg    string
	}{
		{"every field", func(c *Config) {}, nil, ""},
		{"mutation only", func(c *Config) { c.GraphQL = &GraphQLOptions{Mutation: "file:upsert.graphql"} }, nil, ""},

		{"no graphql", func(c *Config) { c.GraphQL = nil }, []string{"graphql.mutation"}, "required for type graphql"},
		{"blank mutation", func(c *Config) { c.GraphQL.Mutation = " \n" }, []string{"graphql.mutation"}, "required"},
		{"file: without a path", func(c *Config) { c.GraphQL.Mutation = "file:" }, []string{"graphql.mutation"}, "want a path"},
		{"blank delete mutation", func(c *Config) { c.GraphQL.DeleteMutation = " " }, []string{"graphql.deleteMutation"}, "empty document"},
		{"on another type", func(c *Config) { c.Type = REST }, []string{"graphql"}, "only used by type graphql (the type is rest)"},
		{"on an unknown type", func(c *Config) { c.Type = "ftp" }, []string{"type"}, "unknown type"},
		{"operation name with a space", func(c *Config) { c.GraphQL.OperationName = "Upsert Patient" }, []string{"graphql.operationName"}, "GraphQL name"},
		{"input variable with a $", func(c *Config) { c.GraphQL.InputVariable = "$input" }, []string{"graphql.inputVariable"}, "GraphQL name"},
		{"delete operation without a delete mutation", func(c *Config) { c.GraphQL.DeleteMutation = "" },
			[]string{"graphql.deleteOperationName"}, "only used with a deleteMutation"},
		{"bad delete operation name", func(c *Config) { c.GraphQL.DeleteOperationName = "1x" }, []string{"graphql.deleteOperationName"}, "GraphQL name"},
		{"empty retry code", func(c *Config) { c.GraphQL.RetryCodes = []string{"TIMEOUT", ""} }, []string{"graphql.retryCodes[1]"}, "empty code"},
		{"retry code with a space", func(c *Config) { c.GraphQL.RetryCodes = []string{"A B"} }, []string{"graphql.retryCodes[0]"}, "white space"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := graphqlConfig(full())
			tt.edit(&c)
			err := c.Validate()
			if tt.fields == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want errors at %q", tt.fields)
			}
			if got := fieldsOf(fieldErrors(t, err)); !slices.Equal(got, tt.fields) {
				t.Errorf("fields = %q, want %q; error:\n%v", got, tt.fields, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
		})
	}
}

func TestResolveText(t *testing.T) {
	dir := t.TempDir()
	doc := filepath.Join(dir, "upsert.graphql")
	if err := os.WriteFile(doc, []byte(upsertPatient+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.graphql")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ref, want, errHas string
		is                error
	}{
		{ref: upsertPatient, want: upsertPatient},
		{ref: "file:" + doc, want: upsertPatient + "\n"},
		{ref: "env:NOT_A_REFERENCE", want: "env:NOT_A_REFERENCE"},
		{ref: "file:" + filepath.Join(dir, "missing"), errHas: "missing", is: fs.ErrNotExist},
		{ref: "file:" + empty, errHas: "empty"},
		{ref: "file:", errHas: "wants a path"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			got, err := ResolveText(tt.ref)
			if tt.errHas == "" {
				if err != nil || got != tt.want {
					t.Fatalf("ResolveText = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("ResolveText error = %v, want one containing %q", err, tt.errHas)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not wrap %v", err, tt.is)
			}
		})
	}
}
