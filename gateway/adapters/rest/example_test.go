package rest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/liaisonhq/liaison/gateway/adapters/rest"
	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
)

func ExampleClient_Send() {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(r.Method, r.URL.RequestURI(), r.Header.Get("Idempotency-Key"))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer ts.Close()

	c, err := rest.New(connector.Config{
		Name:     "scheduling",
		Type:     connector.REST,
		Endpoint: ts.URL + "/api/{type}/{id}",
	}, ts.Client())
	if err != nil {
		panic(err)
	}
	for _, op := range []outbox.Op{outbox.Upsert, outbox.Delete} {
		err := c.Send(context.Background(), outbox.Message{
			RecordType:     "appointments",
			RecordID:       "A1",
			Op:             op,
			Body:           []byte(`{"id":"A1","status":"booked"}`),
			IdempotencyKey: "k-" + string(op),
		})
		fmt.Println(err)
	}
	// Output:
	// PUT /api/appointments/A1 k-upsert
	// <nil>
	// DELETE /api/appointments/A1 k-delete
	// <nil>
}
