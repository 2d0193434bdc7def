package gateway_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"

	"github.com/liaisonhq/liaison/gateway"
)

func ExampleNew() {
	g, err := gateway.New(gateway.Config{}, slog.New(slog.DiscardHandler))
	if err != nil {
		panic(err)
	}
	fmt.Println(g.Config().Addr, g.Config().DataDir, g.Config().ShutdownTimeout)
	// Output:
	// 127.0.0.1:8080 ./liaison-data 10s
}

func ExampleGateway_Serve() {
	g, err := gateway.New(gateway.Config{}, nil)
	if err != nil {
		panic(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- g.Serve(ctx, l) }()

	res, err := http.Get("http://" + l.Addr().String() + "/healthz")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.StatusCode, string(body))

	cancel() // graceful shutdown
	fmt.Println(<-done)
	// Output:
	// 200 {"status":"ok"}
	// <nil>
}

// Errors, unknown routes included, are FHIR OperationOutcomes.
func ExampleGateway_Handler() {
	g, err := gateway.New(gateway.Config{}, nil)
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()

	res, err := http.Get(srv.URL + "/nope")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(res.StatusCode, res.Header.Get("Content-Type"))
	fmt.Println(string(body))
	// Output:
	// 404 application/fhir+json
	// {"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found","diagnostics":"no endpoint GET /nope"}]}
}
