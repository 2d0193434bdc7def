// Package gateway is Liaison's HTTP front: it owns the listener, the routes
// and the edge where every error becomes a FHIR OperationOutcome.
//
// For now it serves liveness and readiness only:
//
//	g, err := gateway.New(gateway.Config{Addr: "127.0.0.1:8080"}, log)
//	if err != nil {
//		return err // a bad Config, before any I/O
//	}
//	return g.Run(ctx) // blocks; cancel ctx for a graceful shutdown
//
// Every answer that is not a success is an OperationOutcome
// (application/fhir+json), written in one place (outcome.go). Every request
// gets a request id (X-Request-Id, kept from the caller when it is sane,
// generated otherwise) and one JSON log line with the method, path, status
// and duration; bodies and query strings are never logged. Only this
// package's HTTP layer (http.go, outcome.go, requestlog.go) imports Echo.
//
// A Gateway is safe for concurrent use; Run or Serve may be called once.
package gateway
