package fhirserver_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/liaisonhq/liaison/gateway/internal/fhirserver"
)

func Example() {
	srv := fhirserver.New()
	ts := httptest.NewServer(srv)
	defer ts.Close()
	base := ts.URL + fhirserver.BasePath

	put := func(body string) {
		req, _ := http.NewRequest(http.MethodPut, base+"/Patient?identifier=urn:mrn%7C42", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/fhir+json")
		resp, err := ts.Client().Do(req)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		out := []any{resp.StatusCode}
		for _, v := range []string{resp.Header.Get("ETag"), strings.TrimPrefix(resp.Header.Get("Location"), base), resp.Header.Get("Retry-After")} {
			if v != "" {
				out = append(out, v)
			}
		}
		fmt.Println(out...)
	}
	put(`{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"42"}],"active":true}`)
	put(`{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"42"}],"active":false}`)
	put(`{"resourceType":"Patient","gender":"robot"}`)

	srv.FailNext(1, http.StatusServiceUnavailable, "7")
	put(`{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"42"}]}`)

	fmt.Println(len(srv.Resources("Patient")), srv.Count(http.MethodPut))
	// Output:
	// 201 W/"1" /Patient/1/_history/1
	// 200 W/"2" /Patient/1/_history/2
	// 422
	// 503 7
	// 1 4
}
