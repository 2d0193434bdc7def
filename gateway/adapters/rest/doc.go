// Package rest is the connector adapter for plain JSON REST APIs: it
// delivers outbox messages as HTTP requests to a URL made from the
// connector's endpoint.
//
//	c, err := rest.New(cfg, authClient)
//	err = c.Send(ctx, msg) // nil, or a *outbox.SendError
//
// The endpoint is a URL template. {id} and {type} stand for the record's
// id and type, path-escaped in the path and query-escaped in the query;
// they may not appear in the scheme or host.
//
//	endpoint                               upsert                     delete
//	https://api.example/records/{type}/{id}  PUT  …/Appointment/A1      DELETE …/Appointment/A1
//	https://api.example/{type}               POST …/Appointment         DELETE …/Appointment/A1
//	https://api.example/appointments         POST …/appointments        DELETE …/appointments/A1
//
// That is: with {id}, upserts are PUT and deletes DELETE to the URL;
// without, upserts are POST to it and deletes DELETE to it plus "/" and
// the id. The body is the message's, sent as is with its content type
// (default application/json; a JSON type must hold valid JSON), and the
// message's idempotency key goes in Idempotency-Key, the same on every
// attempt, so that an API that honours it applies a repeated POST once.
//
// A 2xx is success, and so are 404 and 410 to a delete: the record is
// absent, as wanted. Anything else is a *outbox.SendError classified by
// package httpresult: the status, Retry-After, the response body in
// Response, and a description without the URL or the payload. No answer
// (refused, reset, timed out) is Status 0. A message that can never be
// delivered — an upsert without a body, a URL that needs an id or type the
// record lacks — is Permanent. Nothing is logged.
//
// Each attempt is bounded by the connector's Delivery.Timeout (default
// 30s) as well as by the caller's context. Outbound authentication is the
// Transport of the *http.Client given to New. A Client is safe for
// concurrent use.
package rest
