package soap_test

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/liaisonhq/liaison/gateway/adapters/soap"
	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/transform/hl7v2"
)

// An IIS that answers every submitSingleMessage with the acknowledgment
// code it is given.
func iis(code hl7v2.AckCode) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env struct {
			Submit struct {
				FacilityID string `xml:"facilityID"`
				HL7        string `xml:"hl7Message"`
			} `xml:"Body>submitSingleMessage"`
		}
		if err := xml.NewDecoder(r.Body).Decode(&env); err != nil {
			http.Error(w, "bad envelope", http.StatusBadRequest)
			return
		}
		fmt.Println(r.Header.Get("Content-Type"), env.Submit.FacilityID)
		msg, _ := hl7v2.Parse([]byte(env.Submit.HL7))
		ack, _ := hl7v2.NewAck(msg, code, hl7v2.AckOptions{})
		w.Header().Set("Content-Type", "application/soap+xml")
		fmt.Fprint(w, `<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body>`+
			`<submitSingleMessageResponse xmlns="urn:cdc:iisb:2011"><return>`)
		_ = xml.EscapeText(w, hl7v2.Encode(ack))
		fmt.Fprint(w, `</return></submitSingleMessageResponse></soap:Body></soap:Envelope>`)
	}))
}

func ExampleNewWith() {
	vxu := strings.Join([]string{
		`MSH|^~\&|LIAISON|CLINIC|IIS|STATE|20240615093000||VXU^V04^VXU_V04|IMM-1|P|2.5.1`,
		`PID|1||4711^^^HMS^MR||Doe^Jane`,
		`RXA|0|1|20240615093000||08^Hep B^CVX|999||||||||||||CP|A`,
	}, "\r") + "\r"
	for _, code := range []hl7v2.AckCode{hl7v2.AppAccept, hl7v2.AppError, hl7v2.AppReject} {
		ts := iis(code)
		c, err := soap.NewWith(connector.Config{Name: "state-iis", Type: connector.SOAP, Endpoint: ts.URL},
			soap.Options{IIS: soap.IIS{Username: "clinic", Password: "secret", FacilityID: "CLINIC-1"}}, ts.Client())
		if err != nil {
			panic(err)
		}
		err = c.Send(context.Background(), outbox.Message{
			RecordType: "Immunization", RecordID: "IMM-1", Op: outbox.Upsert,
			Body: []byte(vxu), ContentType: "x-application/hl7-v2+er7", IdempotencyKey: "k1",
		})
		var se *outbox.SendError
		if errors.As(err, &se) {
			fmt.Printf("%v (permanent %v)\n", err, se.Permanent)
		} else {
			fmt.Println(err)
		}
		ts.Close()
	}
	// Output:
	// application/soap+xml; action="urn:cdc:iisb:2011:submitSingleMessage"; charset=utf-8 CLINIC-1
	// <nil>
	// application/soap+xml; action="urn:cdc:iisb:2011:submitSingleMessage"; charset=utf-8 CLINIC-1
	// POST submitSingleMessage: acknowledgment AE (permanent false)
	// application/soap+xml; action="urn:cdc:iisb:2011:submitSingleMessage"; charset=utf-8 CLINIC-1
	// status 200: POST submitSingleMessage: acknowledgment AR (permanent true)
}
