// Package graphql is the connector adapter for GraphQL APIs: it delivers
// each outbox message as one mutation, POSTed as JSON (GraphQL over HTTP).
//
//	c, err := graphql.NewWith(cfg, graphql.Options{
//		Mutation: `mutation UpsertPatient($input: PatientInput!) { upsertPatient(input: $input) { id } }`,
//		InputVariable:  "input",
//		DeleteMutation: `mutation DeletePatient($id: ID!) { deletePatient(id: $id) { id } }`,
//	}, authClient)
//	err = c.Send(ctx, msg) // nil, or a *outbox.SendError
//
// Options holds what connector.Config has no field for; New, with the zero
// Options, fails for want of a mutation.
//
// # Requests
//
// Every message is one POST to the endpoint with Content-Type
// application/json, Accept application/graphql-response+json (then
// application/json), and the message's idempotency key as
// Idempotency-Key, the same on every attempt:
//
//	{"query": <document>, "operationName": <name>, "variables": <variables>}
//
// For an upsert the document is Options.Mutation, and the variables are
// the message body (a JSON object), or {InputVariable: body} when
// InputVariable is set (any JSON value). For a delete the document is
// Options.DeleteMutation and the variables are {"id": record id}; without
// a delete mutation a delete is Permanent. operationName is the
// configured name, else the operation's own, and is left out for an
// anonymous operation. Documents are checked by NewWith: tokens,
// brackets, an executable document whose operation to run is a mutation
// declaring the variables it gets.
//
// # Verdicts
//
// A status other than 2xx is classified by package httpresult: 408, 429
// and 5xx retried (Retry-After honoured), 410 disables the connector,
// other 4xx dead-lettered; the error codes of a GraphQL body are added to
// the error. A 2xx is read as a GraphQL response:
//
//	no errors, data present                               delivered
//	errors, each with extensions.code in RetryCodes       retried (Status 0, Retry-After honoured)
//	errors, any without such a code (BAD_USER_INPUT,      Permanent (dead), with the status
//	  GRAPHQL_VALIDATION_FAILED, UNAUTHENTICATED, …)
//	not a GraphQL response, or neither data nor errors    retried (Status 0)
//
// whether data is null or not. A retry after a 2xx has Status 0 because
// the outbox reads a 2xx status as final. Response holds the answer, at
// most outbox.MaxResponse bytes, for operators. Err names the operation,
// the status and each error's code and path — never an error's message,
// which may echo the variables, nor the payload. A message that can never
// be delivered (no body, a body that is not JSON, or not an object without
// InputVariable; a delete without a delete mutation or a record id) is
// Permanent, without a request. Nothing is logged.
//
// Each attempt is bounded by the connector's Delivery.Timeout (default
// 30s) as well as by the caller's context. Outbound authentication is the
// Transport of the *http.Client given to NewWith. A Client is safe for
// concurrent use.
package graphql
