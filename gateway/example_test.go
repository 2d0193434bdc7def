package gateway_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/liaisonhq/liaison/gateway"
)

// tempDir is a data directory for an example.
func tempDir() string {
	dir, err := os.MkdirTemp("", "liaison-example-")
	if err != nil {
		panic(err)
	}
	return dir
}

func ExampleNew() {
	dir := tempDir()
	defer os.RemoveAll(dir)
	g, err := gateway.New(gateway.Config{DataDir: dir}, slog.New(slog.DiscardHandler))
	if err != nil {
		panic(err)
	}
	defer g.Close()
	fmt.Println(g.Config().Addr, g.Config().ShutdownTimeout, g.GeneratedToken() != "")
	// Output:
	// 127.0.0.1:8080 10s true
}

func ExampleGateway_Serve() {
	dir := tempDir()
	defer os.RemoveAll(dir)
	g, err := gateway.New(gateway.Config{DataDir: dir}, nil)
	if err != nil {
		panic(err)
	}
	defer g.Close()
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
	dir := tempDir()
	defer os.RemoveAll(dir)
	g, err := gateway.New(gateway.Config{DataDir: dir}, nil)
	if err != nil {
		panic(err)
	}
	defer g.Close()
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
