package auth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/liaisonhq/liaison/gateway/auth"
	"github.com/liaisonhq/liaison/gateway/connector"
)

func ExampleNewClient() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("the API got", r.Header.Get("X-API-Key"))
	}))
	defer api.Close()

	cfg := connector.Config{
		Name: "scheduler", Type: connector.REST, Endpoint: api.URL,
		Auth: &connector.Auth{Scheme: connector.SchemeAPIKey, Key: "k-123"}, // or "env:SCHEDULER_KEY"
	}
	client, err := auth.NewClient(cfg, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.CloseIdleConnections()
	resp, err := client.Get(api.URL + "/slots")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	// Output:
	// the API got k-123
	// 200 OK
}

func ExamplePrefetch() {
	token := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"invalid_client","error_description":"unknown client ABC123"}`)
	}))
	defer token.Close()

	cfg := connector.Config{
		Name: "StateEHR", Type: connector.FHIR, Endpoint: "https://stateehr.example/fhir/Patient",
		Auth: &connector.Auth{Scheme: connector.SchemeOAuth2, ClientID: "ABC123", ClientSecret: "SECRET", TokenURL: token.URL},
	}
	client, err := auth.NewClient(cfg, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.CloseIdleConnections()
	// At registration: a failure becomes the connector's lastError.
	fmt.Println(auth.Prefetch(context.Background(), client))
	// Output:
	// oauth2 token endpoint answered 401 Unauthorized: invalid_client
}

func ExampleNewTransport() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _, _ := r.BasicAuth()
		fmt.Println("the API got user", user)
	}))
	defer api.Close()

	// The caller's own transport, here with a small connection pool.
	base := &http.Transport{MaxIdleConnsPerHost: 2}
	defer base.CloseIdleConnections()
	tr, err := auth.NewTransport(connector.Config{
		Auth: &connector.Auth{Scheme: connector.SchemeBasic, Username: "svc", Password: "s3cret"},
	}, base)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp, err := (&http.Client{Transport: tr}).Get(api.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	// Output:
	// the API got user svc
}
