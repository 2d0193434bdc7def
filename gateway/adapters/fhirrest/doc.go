// Package fhirrest is the connector adapter for FHIR R4 servers: it
// delivers outbox messages through the FHIR RESTful API
// (hl7.org/fhir/R4/http.html).
//
//	c, err := fhirrest.New(cfg, authClient) // cfg.Endpoint: "https://ehr.example/fhir" or ".../fhir/Patient"
//	err = c.Send(ctx, msg)                  // nil, or a *outbox.SendError
//
// A message's body is one resource in FHIR JSON (or FHIR XML, sent on as
// JSON). A JSON object without resourceType, as a rename mapping makes,
// takes the resource type the endpoint ends in. Every message is sent so
// that repeating it is harmless, since the outbox delivers at least once:
//
//	upsert, with identifier system|value  PUT    [base]/[type]?identifier=system|value   (conditional update)
//	upsert, with an id only               PUT    [base]/[type]/[id]                      (update, or create with that id)
//	delete, with identifier system|value  DELETE [base]/[type]?identifier=system|value   (conditional delete)
//	delete, with an id only               DELETE [base]/[type]/[id]
//	delete, without a body                DELETE [base]/[type]/[record id]
//
// The identifier is the resource's first with both system and value,
// escaped as a search token and URL-encoded. Requests carry Content-Type
// and Accept application/fhir+json, Prefer: return=minimal, and the
// message's idempotency key as Idempotency-Key and X-Request-Id (for
// proxies and server logs; FHIR servers ignore them).
//
// A 2xx is success, and so are 404 and 410 to a delete: the resource is
// absent, as wanted. Anything else is a *outbox.SendError classified by
// package httpresult: the status, Retry-After, the server's answer
// (usually an OperationOutcome) in Response, and a description without
// the URL, the payload or the server's diagnostics, which may echo patient
// data. No answer (refused, reset, timed out) is Status 0. A message that
// can never be delivered — no resource, or neither identifier nor id — is
// Permanent. Nothing is logged.
//
// Each attempt is bounded by the connector's Delivery.Timeout (default
// 30s) as well as by the caller's context. Outbound authentication is the
// Transport of the *http.Client given to New; response bodies are drained
// and closed so its connections are reused. A Client is safe for
// concurrent use.
package fhirrest
