// Package webhook authenticates the webhooks that connectors post to the
// gateway, and signs the webhooks that the gateway sends.
//
// A Verifier is built once per connector from its configuration
// (connector.Config.WebhookVerify), with its secrets resolved, and then
// checks each delivery's headers and raw body:
//
//   - standard-webhooks: the Standard Webhooks signature
//     (https://www.standardwebhooks.com): an HMAC-SHA256 over
//     "{webhook-id}.{webhook-timestamp}.{body}" with the key of a "whsec_"
//     secret, in webhook-signature as space-separated "v1,<base64>"
//     items; the timestamp must be within the tolerance (default 5
//     minutes) of now;
//   - hmac-sha256: an HMAC-SHA256 of the body in one header, GitHub's
//     "X-Hub-Signature-256: sha256=<hex>" by default;
//   - apikey: a header that holds one of the secrets;
//   - basic: HTTP basic authentication.
//
// Several secrets may be configured during a rotation; a delivery that
// any of them verifies is accepted. Signatures, keys and credentials are
// compared in constant time, over the body exactly as received: the
// caller hands Verify the raw bytes, never a re-encoded payload.
//
// Verify returns the delivery id by which the gateway deduplicates: the
// webhook-id for Standard Webhooks, else an X-Webhook-Id,
// X-GitHub-Delivery or Idempotency-Key header, else the SHA-256 of the
// body. A delivery that fails gets an *Error whose Reason says what was
// wrong ("signature does not match") and never contains a secret, a
// signature or the body; the gateway answers it with 401.
//
// A Signer signs outbound webhooks the Standard Webhooks way, so that the
// receiver can check them with any of the reference libraries.
//
// Verifier and Signer are immutable once built and safe for concurrent
// use. They read their secrets (env: and file: references included) once,
// when built: to take up a rotated secret, build a new one.
package webhook
