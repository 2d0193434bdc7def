// Package fhirserver is an in-process FHIR R4 server for tests: it behaves
// like a real one (HAPI, and hl7.org/fhir/R4/http.html) for the RESTful
// interactions Liaison's adapters use, keeps every version of every
// resource in memory, and lets a test inject faults and inspect what it
// was sent.
//
//	srv := fhirserver.Start(t)                 // 127.0.0.1:0, closed by t.Cleanup
//	base := srv.URL()                          // "http://127.0.0.1:PORT/fhir"
//	srv.FailNext(1, http.StatusServiceUnavailable, "7")
//	...
//	appts := srv.Resources("Appointment")
//
// Interactions, all answered in application/fhir+json, errors as an
// OperationOutcome:
//
//	POST   [type]                      create; If-None-Exist: a search → 200 with the one match, 412 for several
//	PUT    [type]/[id]                 update, or create with that id (201); the body's id must be [id]
//	PUT    [type]?[search]             conditional update: 0 matches create, 1 updates it, more → 412
//	DELETE [type]/[id]                 delete; a missing or deleted one is not an error (200, or 204 with Prefer: return=minimal)
//	DELETE [type]?[search]             conditional delete: 0 or 1 match as above, more → 412
//	GET    [type]/[id]                 read: 404 unknown, 410 deleted
//	GET    [type]/[id]/_history        history Bundle, newest first
//	GET    [type]/[id]/_history/[vid]  vread
//	GET    [type]?[search]             searchset Bundle with total
//	GET    metadata                    a minimal CapabilityStatement
//
// Search parameters are identifier (a token: system|value, |value, system|
// or value, comma for "or", backslash escapes) and _id; other parameters
// starting with "_" are ignored, any other one is a 400. Every create or
// change makes a new version: meta.versionId counts up from 1 and
// meta.lastUpdated is set, and the answer carries ETag W/"n", Last-Modified
// and Location [base]/[type]/[id]/_history/[n]. An update that changes
// nothing but meta.versionId and meta.lastUpdated makes no new version, as
// in HAPI. If-Match: W/"n" on an update must name the current version, else
// 412. Prefer: return=minimal | representation (the default) |
// OperationOutcome shapes create and update answers.
//
// Bodies are read with fhir.ParseJSON and checked against the URL's type
// and with fhir.Validate: malformed JSON, a wrong or missing resourceType,
// or an id that does not fit the URL → 400; model violations → 422, with
// every issue. A Content-Type other than FHIR JSON (application/fhir+json,
// application/json) → 415; an unknown resource type in the URL → 404.
// Transactions, batches and XML are not served.
//
// Faults (FailNext, SetDown, SetDelay, Gone) and inspection (Resources,
// History, Requests, Count) are safe to use while requests are served.
// Everything the server keeps is copied in and out, so callers cannot
// change it behind its back.
package fhirserver
