// Package connector holds the configuration of a connector: one external
// system (an EHR's FHIR server, a REST, SOAP or GraphQL API, a webhook
// receiver, a NATS or AMQP queue) that the gateway keeps in step with the
// HMS records.
//
// A connector arrives in one of two ways, and both mean the same:
//
//   - as the JSON body of POST /api/external-connectors, read by Parse;
//   - as an entry of a YAML config file, read by LoadFile.
//
// Either way the result is a Config that the caller completes with
// WithDefaults and checks with Validate, which does no I/O. Problems are
// *FieldError values naming the field ("auth.scheme",
// "mapping.outbound.Appointment"), and in a config file its position
// ("connectors.yaml:12:15"); every problem is reported, joined with
// errors.Join, not just the first.
//
// Inbound webhooks (sync mode webhook) are verified as sync.verify says:
// Standard Webhooks, an HMAC-SHA256 header, an API key or basic auth;
// Config.WebhookVerify gives the verification in effect, including the
// seed's form, where auth.secret is a Standard Webhooks secret.
//
// Secrets (client secrets, passwords, tokens, API keys, private keys,
// webhook signing secrets and sync.verify's secrets) are write-only. They may be given as values or
// as "env:NAME" / "file:PATH" references that ResolveSecret reads when the
// connector needs them. Redacted hides them for every response;
// KeepSecrets lets an update send back the "***" it was shown to keep a
// secret unchanged. No error of this package contains a secret's value.
package connector
