// Package demo is "liaison demo": a gateway on embedded defaults, a sample
// EHR and a sample scheduler on 127.0.0.1, and a short scenario that sends
// patients, bookings and cancellations both ways through the gateway.
//
//	d, err := demo.Start(demo.Config{Adapters: adapters}, log)
//	if err != nil {
//		return err
//	}
//	defer d.Close()
//	report, err := d.Play(ctx) // err wraps ErrVerify when the end state is wrong
//	report.WriteTo(os.Stdout)
//
// The sample EHR is the FHIR R4 server of gateway/internal/fhirserver
// (conditional update, versions) and tells the gateway of its own changes
// the way an EHR does: it posts the changed resource, or a Bundle of them,
// signed per Standard Webhooks, to the callback of every rest-hook
// Subscription the gateway made at registration. The sample scheduler is a
// small HMS-style REST API that keeps patients and appointments in memory:
// the gateway delivers records to PUT and DELETE /api/{type}/{id} (with
// an API key), and the scheduler posts its own changes to the gateway's
// records API with the admin token and ?source= naming its connector, so
// that the gateway takes them to the EHR and not back to the scheduler.
//
// Play registers both connectors through the management API, plays the
// scenario (scheduler first, then the EHR), waits a bounded time until
// every message is delivered or dead, then checks what each side holds.
// Its Report tells what flowed where: every change, the gateway's answer,
// and the request each delivery made at its destination, matched by the
// message's idempotency key.
//
// The data is made up; the gateway's store is a temporary directory that
// Close removes. Play runs once per Demo; URL, AdminToken and Moved may be
// called from any goroutine.
package demo
