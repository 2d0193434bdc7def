// Package soap is the connector adapter for SOAP 1.1 and 1.2 services,
// and for state immunization registries (IIS) through the CDC WSDL's
// submitSingleMessage operation.
//
//	c, err := soap.NewWith(cfg, soap.Options{
//		Security: &soap.UsernameToken{Username: "clinic", Password: pw, Digest: true},
//		IIS:      soap.IIS{Username: "clinic", Password: pw, FacilityID: "CLINIC-1"},
//	}, authClient)
//	err = c.Send(ctx, msg) // nil, or a *outbox.SendError
//
// Options holds what connector.Config has no field for; New is NewWith
// with the zero Options.
//
// # Requests
//
// Every message is one POST to the endpoint, with the message's
// idempotency key as Idempotency-Key (the same on every attempt):
//
//	message body                     soap:Body holds                        version, action (defaults)
//	XML (application/xml, …+xml, "")  the body's root element, as it is     1.1, none
//	HL7 v2 (x-application/hl7-v2+er7) submitSingleMessage (urn:cdc:iisb:2011) 1.2, IISAction
//	delete of an XML record           Options.Delete's element with the id  1.1, Options.Delete.Action
//	delete of an HL7 v2 VXU           submitSingleMessage, every RXA-21 "D"  1.2, IISAction
//
// SOAP 1.1 requests are text/xml with a SOAPAction header; SOAP 1.2
// requests are application/soap+xml with the action as the media type's
// action parameter. An XML body must be one well-formed UTF-8 element (an
// XML declaration and comments around it are dropped) and not an envelope
// itself. submitSingleMessage carries username, password and facilityID
// from Options.IIS, each left out when empty, and the ER7 as hl7Message,
// XML-escaped (segment terminators as &#xD;, so that they survive XML
// line-end normalisation). With Options.Security, a WS-Security
// UsernameToken header (mustUnderstand) carries the user and either the
// PasswordText or a PasswordDigest, Base64(SHA-1(nonce + created +
// password)), with a fresh 16-byte nonce and wsu:Created on every attempt.
//
// # Verdicts
//
// HTTP statuses are classified by package httpresult: 2xx delivered; 408,
// 429 and 5xx retried (Retry-After honoured); 410 disables the connector;
// other 4xx dead-lettered. A SOAP Fault makes the verdict more precise
// where the status leaves it open, on a 5xx (SOAP 1.1 sends every fault
// with 500) and on a 2xx:
//
//	Client, Sender, VersionMismatch, MustUnderstand,      Permanent (dead)
//	  WS-Security FailedAuthentication, InvalidSecurity…
//	Server, Receiver, MessageExpired                        retried
//	CDC SecurityFault, UnsupportedOperationFault            Permanent, whatever the code
//	CDC UnknownFault, MessageTooLargeFault                  retried, whatever the code
//
// The most specific code known decides ("soap:Client.Authentication" is
// a Client fault; a 1.2 Sender with subcode wsse:MessageExpired is
// retried); codes are matched by local name. A fault with no known code
// leaves the verdict to the status.
//
// For the IIS, a 2xx must hold a submitSingleMessageResponse whose return
// is an HL7 v2 acknowledgment of the message sent (MSA-2 equal to its
// MSH-10, when both are present), read with package hl7v2: MSA-1 AA or CA
// is delivered, AE or CE retried, AR or CR Permanent. An answer that is no
// envelope, no acknowledgment, or one for another message, is retried.
//
// A retry decided after a 2xx is a SendError with Status 0, since the
// outbox reads a 2xx status as final; a Permanent one keeps the status.
// Response holds the service's answer (for an acknowledgment, the ACK's
// ER7) at most outbox.MaxResponse bytes, for operators. Err names the
// operation, the status, the fault codes and the acknowledgment code with
// its ERR segments' severities, codes and locations — never a fault
// string, an ERR text, the payload or a credential: those may hold patient
// data or secrets. A message that can never be delivered — no body, a body
// that is neither XML nor HL7 v2, a delete without a delete operation —
// is Permanent, without a request. Nothing is logged.
//
// Each attempt is bounded by the connector's Delivery.Timeout (default
// 30s) as well as by the caller's context. Transport-level authentication
// is the Transport of the *http.Client given to NewWith. A Client is safe
// for concurrent use.
package soap
