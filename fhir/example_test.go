package fhir_test

import (
	"fmt"

	"github.com/liaisonhq/liaison/fhir"
)

func ExampleParseJSON() {
	res, err := fhir.ParseJSON([]byte(`{"resourceType":"Observation","valueQuantity":{"value":1.50,"unit":"mg"}}`))
	if err != nil {
		panic(err)
	}
	out, _ := fhir.EncodeJSON(res)
	fmt.Println(res.Type())
	fmt.Println(string(out))
	// Output:
	// Observation
	// {"resourceType":"Observation","valueQuantity":{"value":1.50,"unit":"mg"}}
}

func ExampleOutcome() {
	out, _ := fhir.EncodeJSON(fhir.Outcome(fhir.Issue{
		Severity:    fhir.SeverityError,
		Code:        fhir.IssueRequired,
		Diagnostics: "missing required element status",
		Expression:  []string{"Appointment.status"},
	}))
	fmt.Println(string(out))
	// Output:
	// {"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"required","diagnostics":"missing required element status","expression":["Appointment.status"]}]}
}

func ExampleNewTransaction() {
	tx := fhir.NewTransaction()
	tx.ConditionalUpdate(fhir.Resource{"resourceType": "Appointment", "status": "booked"}, "identifier=urn:hms:appointment|A1")
	entry := tx.Bundle()["entry"].([]any)[0].(map[string]any)
	fmt.Println(entry["request"])
	// Output:
	// map[method:PUT url:Appointment?identifier=urn:hms:appointment|A1]
}
