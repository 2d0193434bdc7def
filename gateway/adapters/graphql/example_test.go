package graphql_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/liaisonhq/liaison/gateway/adapters/graphql"
	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
)

func ExampleNewWith() {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			OperationName string         `json:"operationName"`
			Variables     map[string]any `json:"variables"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		fmt.Println(req.OperationName, req.Variables, r.Header.Get("Idempotency-Key"))
		w.Header().Set("Content-Type", "application/graphql-response+json")
		if req.OperationName == "DeletePatient" {
			fmt.Fprint(w, `{"data":null,"errors":[{"message":"no such patient","extensions":{"code":"BAD_USER_INPUT"}}]}`)
			return
		}
		fmt.Fprint(w, `{"data":{"upsertPatient":{"id":"P1"}}}`)
	}))
	defer ts.Close()

	c, err := graphql.NewWith(connector.Config{Name: "portal", Type: connector.GraphQL, Endpoint: ts.URL}, graphql.Options{
		Mutation:       `mutation UpsertPatient($input: PatientInput!) { upsertPatient(input: $input) { id } }`,
		InputVariable:  "input",
		DeleteMutation: `mutation DeletePatient($id: ID!) { deletePatient(id: $id) { id } }`,
	}, ts.Client())
	if err != nil {
		panic(err)
	}
	for _, op := range []outbox.Op{outbox.Upsert, outbox.Delete} {
		err := c.Send(context.Background(), outbox.Message{
			RecordType: "Patient", RecordID: "P1", Op: op,
			Body: []byte(`{"id":"P1","active":true}`), ContentType: "application/json",
			IdempotencyKey: "k-" + string(op),
		})
		fmt.Println(err)
	}
	// Output:
	// UpsertPatient map[input:map[active:true id:P1]] k-upsert
	// <nil>
	// DeletePatient map[id:P1] k-delete
	// status 200: POST mutation DeletePatient: 1 GraphQL error: BAD_USER_INPUT
}
