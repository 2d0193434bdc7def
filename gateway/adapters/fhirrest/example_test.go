package fhirrest_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/liaisonhq/liaison/gateway/adapters/fhirrest"
	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/internal/fhirserver"
	"github.com/liaisonhq/liaison/gateway/outbox"
)

func ExampleClient_Send() {
	srv := fhirserver.New()
	ts := httptest.NewServer(srv)
	defer ts.Close()

	c, err := fhirrest.New(connector.Config{
		Name:     "ehr",
		Type:     connector.FHIR,
		Endpoint: ts.URL + fhirserver.BasePath + "/Appointment",
	}, ts.Client())
	if err != nil {
		panic(err)
	}
	upsert := func(status string) error {
		return c.Send(context.Background(), outbox.Message{
			Op:          outbox.Upsert,
			ContentType: "application/fhir+json",
			Body: []byte(`{"resourceType":"Appointment",` +
				`"identifier":[{"system":"urn:hms:appointment","value":"A1"}],` +
				`"status":"` + status + `",` +
				`"participant":[{"actor":{"reference":"Patient/P9"},"status":"accepted"}]}`),
			IdempotencyKey: "hms:Appointment/A1:" + status,
		})
	}
	fmt.Println(upsert("booked"))
	fmt.Println(upsert("cancelled"))
	fmt.Println(upsert("postponed")) // not an R4 appointment status

	a := srv.Resources("Appointment")[0]
	fmt.Println(a["status"], a["meta"].(map[string]any)["versionId"])
	// Output:
	// <nil>
	// <nil>
	// status 422: conditional PUT Appointment: Unprocessable Entity: OperationOutcome error code-invalid at Appointment.status
	// cancelled 2
}
