// Package connector holds the configuration of a connector: one external
// system (an EHR's FHIR server, a REST, SOAP or GraphQL API, a webhook
// receiver, a NATS, AMQP or Kafka queue) that the gateway keeps in step
// with the HMS records.
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
// Settings that only one type of connector has are in an object of their
// own, which other types do not take: "soap" (SOAPOptions: version,
// action, the IIS facilityId / username / password, a WS-Security
// UsernameToken, the delete operation) for type soap, and "graphql"
// (GraphQLOptions: the mutation, which a graphql connector requires, and
// the delete mutation, as text or as a "file:PATH" that ResolveText
// reads) for type graphql.
//
// Secrets (client secrets, passwords, tokens, API keys, private keys,
// webhook signing secrets, sync.verify's secrets and the soap passwords)
// are write-only. They may be given as values or as "env:NAME" /
// "file:PATH" references that ResolveSecret reads when the connector
// needs them. Redacted hides them for every response; KeepSecrets lets an
// update send back the "***" it was shown to keep a secret unchanged. No
// error of this package contains a secret's value.
//
// At rest, secret values are sealed: EncryptSecrets seals every literal
// secret with AES-256-GCM under the key that SecretKey derives from
// LIAISON_SECRET_KEY (the base64 of 32 bytes, or a passphrase of at least
// 16 characters, hashed with SHA-256), as "enc:v1:" followed by the
// base64 of a random nonce and the ciphertext; DecryptSecrets opens them
// again, and names each field that the key does not open. References are
// not sealed: they hold no secret. A sealed Config passes Validate and
// shows "***" through Redacted, but ResolveSecret refuses a sealed value,
// so a configuration is opened before it is used.
package connector
