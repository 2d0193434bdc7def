// Package signedwebhook delivers outbox messages as outbound webhooks
// signed per Standard Webhooks (standardwebhooks.com): a JSON POST to the
// connector's endpoint carrying webhook-id (the message's idempotency key,
// the same on every attempt, so receivers deduplicate), webhook-timestamp
// and webhook-signature, so receivers verify with the official libraries.
//
// The signing secret is the connector's auth.secret (whsec_…, or an
// env:/file: reference). A change is {"type", "id", "op", "data"}: the
// record type and id, upsert or delete, and the mapped record.
package signedwebhook
