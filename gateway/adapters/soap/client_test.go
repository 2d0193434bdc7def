package soap

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/liaisonhq/liaison/gateway/adapters/adaptertest"
	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/transform/hl7v2"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// vxu is a VXU^V04 as the hms-immunization-to-vxu mapping writes it, with
// patient data that no error may show.
var vxu = strings.Join([]string{
	`MSH|^~\&|LIAISON|CLINIC|IIS|STATE|20240615093000||VXU^V04^VXU_V04|IMM-1|P|2.5.1|||ER|AL|||||Z22^^CDCPHINVS`,
	`PID|1||SECRET-MRN-4711^^^HMS^MR||Secretperson^Jane^Q^^^^L||20230815|F|||12 Elm St & Co^^Somewhere^WI^54000^^H`,
	`ORC|RE||IMM-1^LIAISON`,
	`RXA|0|1|20240615093000||08^Hep B, adolescent or pediatric^CVX|0.5|mL^^UCUM||00^New immunization record^NIP001||||||EZ342|20250301|||CP|A`,
	`RXR|C28161^Intramuscular^NCIT|RT^Right Thigh^HL70163`,
	`OBX|1|CE|64994-7^Vaccine funding program eligibility category^LN|1|V02^VFC eligible^HL70064||||||F`,
}, "\r") + "\r"

const (
	hl7Type    = "x-application/hl7-v2+er7"
	secretXML  = `<?xml version="1.0" encoding="UTF-8"?><!-- mapped --><UpdatePatient xmlns="urn:hms:patients"><mrn>SECRET-MRN-4711</mrn><name>Jane Secretperson &amp; Co</name></UpdatePatient>`
	iisUser    = "clinic-user"
	iisSecret  = "SECRET-IIS-PASSWORD"
	wssSecret  = "SECRET-WSS-PASSWORD"
	actionUpd  = "urn:hms:patients/UpdatePatient"
	facilityID = "CLINIC-1"
)

// secrets are the values no error may show.
var secrets = []string{"SECRET", "Secretperson", "Elm St"}

func iisOptions() Options {
	return Options{IIS: IIS{Username: iisUser, Password: iisSecret, FacilityID: facilityID}}
}

func TestConformance(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		security *UsernameToken
		m        outbox.Message
	}{
		{
			name: "xml 1.1 PasswordText",
			opts: Options{Action: actionUpd, Security: &UsernameToken{Username: "gw", Password: wssSecret}},
			m:    outbox.Message{RecordType: "Patient", RecordID: "P1", Op: outbox.Upsert, Body: []byte(secretXML), ContentType: "application/xml"},
		},
		{
			name: "xml 1.2 PasswordDigest",
			opts: Options{Version: V12, Action: actionUpd, Security: &UsernameToken{Username: "gw", Password: wssSecret, Digest: true}},
			m:    outbox.Message{RecordType: "Patient", RecordID: "P1", Op: outbox.Upsert, Body: []byte(secretXML), ContentType: "application/xml"},
		},
		{
			name: "iis",
			opts: iisOptions(),
			m:    outbox.Message{RecordType: "Immunization", RecordID: "IMM-1", Op: outbox.Upsert, Body: []byte(vxu), ContentType: hl7Type},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			adaptertest.Run(t, adaptertest.Factory{
				Target: func(t *testing.T) (adaptertest.Target, string) {
					srv := startServer(t)
					srv.set(func(s *server) {
						s.action, s.security, s.iis = actionUpd, tt.opts.Security, tt.opts.IIS
					})
					return srv, srv.URL()
				},
				New: func(cfg connector.Config, c *http.Client) (outbox.Sender, error) {
					return NewWith(cfg, tt.opts, c)
				},
				Config:  connector.Config{Name: "conformance", Type: connector.SOAP},
				Message: tt.m,
				Secrets: append(secrets, iisSecret, wssSecret),
			})
		})
	}
}

// start returns a test service and a Client for it with opts, with an
// HTTP client closed with the test.
func start(t *testing.T, opts Options) (*server, *Client) {
	t.Helper()
	srv := startServer(t)
	srv.set(func(s *server) { s.action, s.security, s.iis = opts.Action, opts.Security, opts.IIS })
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := NewWith(connector.Config{Name: "iis", Type: connector.SOAP, Endpoint: srv.URL()}, opts, &http.Client{Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func hl7Message(op outbox.Op, body string) outbox.Message {
	return outbox.Message{ID: "m1", Connector: "iis", RecordType: "Immunization", RecordID: "IMM-1", Op: op,
		Body: []byte(body), ContentType: hl7Type, IdempotencyKey: "key-1", Attempt: 1}
}

func xmlMessage(op outbox.Op, body string) outbox.Message {
	return outbox.Message{ID: "m1", Connector: "api", RecordType: "Patient", RecordID: "P1", Op: op,
		Body: []byte(body), ContentType: "application/xml", IdempotencyKey: "key-1", Attempt: 1}
}

// only returns the one request srv received.
func only(t *testing.T, srv *server) received {
	t.Helper()
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	return reqs[0]
}

func TestIISRequest(t *testing.T) {
	for _, version := range []Version{"", V11, V12} {
		t.Run("version "+string(version), func(t *testing.T) {
			opts := iisOptions()
			opts.Version = version
			srv, c := start(t, opts)
			if err := c.Send(context.Background(), hl7Message(outbox.Upsert, vxu)); err != nil {
				t.Fatalf("Send: %v", err)
			}
			r := only(t, srv)
			want := version
			if want == "" {
				want = V12 // the CDC WSDL's binding
			}
			if r.Version != want || r.Action != IISAction {
				t.Errorf("version %s action %q, want %s %q", r.Version, r.Action, want, IISAction)
			}
			if want == V11 && r.Header.Get("SOAPAction") != `"`+IISAction+`"` {
				t.Errorf("SOAPAction %q", r.Header.Get("SOAPAction"))
			}
			if want == V12 && r.Header.Get("SOAPAction") != "" {
				t.Errorf("SOAP 1.2 request with a SOAPAction header")
			}
			if r.HL7 != vxu {
				t.Errorf("hl7Message arrived as %q, want the message byte for byte (CRs kept)", r.HL7)
			}
			if r.Credentials != opts.IIS {
				t.Errorf("credentials %+v, want %+v", r.Credentials, opts.IIS)
			}
			if got := r.Header.Get("Idempotency-Key"); got != "key-1" {
				t.Errorf("Idempotency-Key %q", got)
			}
			if !bytes.Contains(r.Body, []byte("&#xD;")) {
				t.Error("segment terminators not written as character references")
			}
		})
	}
}

func TestIISOptionalParameters(t *testing.T) {
	srv, c := start(t, Options{})
	if err := c.Send(context.Background(), hl7Message(outbox.Upsert, vxu)); err != nil {
		t.Fatal(err)
	}
	r := only(t, srv)
	for _, el := range []string{"username", "password", "facilityID"} {
		if strings.Contains(r.Payload, "<"+el) {
			t.Errorf("empty %s sent", el)
		}
	}
}

func TestXMLRequest(t *testing.T) {
	tests := []struct {
		name, contentType, action, soapAction string
		version                               Version
	}{
		{"1.1", "text/xml; charset=utf-8", actionUpd, `"` + actionUpd + `"`, V11},
		{"1.1 without action", "text/xml; charset=utf-8", "", `""`, V11},
		{"1.2", `application/soap+xml; action="` + actionUpd + `"; charset=utf-8`, actionUpd, "", V12},
		{"1.2 without action", "application/soap+xml; charset=utf-8", "", "", V12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := start(t, Options{Version: tt.version, Action: tt.action})
			if err := c.Send(context.Background(), xmlMessage(outbox.Upsert, secretXML)); err != nil {
				t.Fatalf("Send: %v", err)
			}
			r := only(t, srv)
			if got := r.Header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type %q, want %q", got, tt.contentType)
			}
			if got := r.Header.Get("SOAPAction"); got != tt.soapAction {
				t.Errorf("SOAPAction %q, want %q", got, tt.soapAction)
			}
			if r.Operation != (xml.Name{Space: "urn:hms:patients", Local: "UpdatePatient"}) {
				t.Errorf("operation %v", r.Operation)
			}
			want := secretXML[strings.Index(secretXML, "<UpdatePatient"):]
			if r.Payload != want {
				t.Errorf("Body holds %q, want the element without its prolog %q", r.Payload, want)
			}
		})
	}
}

func TestWSSecurity(t *testing.T) {
	for _, digest := range []bool{false, true} {
		t.Run(map[bool]string{false: "PasswordText", true: "PasswordDigest"}[digest], func(t *testing.T) {
			opts := Options{Action: actionUpd, Security: &UsernameToken{Username: "gw", Password: wssSecret, Digest: digest}}
			srv, c := start(t, opts)
			for range 2 {
				if err := c.Send(context.Background(), xmlMessage(outbox.Upsert, secretXML)); err != nil {
					t.Fatalf("Send: %v", err)
				}
			}
			reqs := srv.Requests()
			tok := reqs[0].Token
			if tok == nil || tok.Username != "gw" {
				t.Fatalf("token %+v", tok)
			}
			if digest {
				if strings.Contains(string(reqs[0].Body), wssSecret) {
					t.Error("the digest request shows the password")
				}
				if reqs[0].Token.Nonce.Value == reqs[1].Token.Nonce.Value {
					t.Error("two attempts with one nonce")
				}
			} else if tok.Password.Value != wssSecret || tok.Nonce.Value != "" {
				t.Errorf("PasswordText token %+v", tok)
			}
		})
	}
}

// TestWSSecurityRejected: the service's WS-Security faults decide.
func TestWSSecurityRejected(t *testing.T) {
	tests := []struct {
		name      string
		client    UsernameToken
		now       time.Time
		random    func() *bytes.Reader
		permanent bool
	}{
		{name: "wrong password", client: UsernameToken{Username: "gw", Password: "other", Digest: true}, permanent: true},
		{name: "wrong password text", client: UsernameToken{Username: "gw", Password: "other"}, permanent: true},
		{name: "replayed nonce", client: UsernameToken{Username: "gw", Password: wssSecret, Digest: true},
			random: func() *bytes.Reader { return bytes.NewReader(make([]byte, 2*nonceSize)) }, permanent: true},
		{name: "expired", client: UsernameToken{Username: "gw", Password: wssSecret, Digest: true},
			now: time.Now().Add(-time.Hour), permanent: false},
	}
	for _, version := range []Version{V11, V12} {
		for _, tt := range tests {
			t.Run(string(version)+" "+tt.name, func(t *testing.T) {
				_, c := start(t, Options{Version: version, Action: actionUpd, Security: &UsernameToken{Username: "gw", Password: wssSecret, Digest: tt.client.Digest}})
				c.cfg.opts.Security = &tt.client
				if !tt.now.IsZero() {
					c.now = func() time.Time { return tt.now }
				}
				var err error
				if tt.random != nil {
					c.random = tt.random()
					if err = c.Send(context.Background(), xmlMessage(outbox.Upsert, secretXML)); err != nil {
						t.Fatalf("first attempt: %v", err)
					}
				}
				err = c.Send(context.Background(), xmlMessage(outbox.Upsert, secretXML))
				var se *outbox.SendError
				if !errors.As(err, &se) || se.Status != 500 || se.Permanent != tt.permanent {
					t.Fatalf("got %#v, want status 500, Permanent %v", err, tt.permanent)
				}
				if !strings.Contains(err.Error(), "SOAP fault") {
					t.Errorf("error does not name the fault: %v", err)
				}
				noSecrets(t, err)
			})
		}
	}
}

func TestMustUnderstand(t *testing.T) {
	srv, c := start(t, Options{Action: actionUpd})
	c.cfg.opts.Security = &UsernameToken{Username: "gw", Password: wssSecret} // the service knows no WS-Security
	srv.set(func(s *server) { s.security = nil })
	err := c.Send(context.Background(), xmlMessage(outbox.Upsert, secretXML))
	var se *outbox.SendError
	if !errors.As(err, &se) || !se.Permanent || !strings.Contains(err.Error(), "MustUnderstand") {
		t.Fatalf("got %v, want a Permanent MustUnderstand fault", err)
	}
}

func TestAcks(t *testing.T) {
	errs := []hl7v2.AckError{
		{Location: hl7v2.Path{Segment: "RXA", Occurrence: 1, Field: 10}, Code: "102", Text: "Data type error", Severity: "E",
			Diagnostic: "Administering provider SECRET unknown", UserMessage: "Jane Secretperson not found"},
		{Location: hl7v2.Path{Segment: "PID", Occurrence: 1, Field: 11, Component: 5}, Code: "101", Severity: "W"},
	}
	tests := []struct {
		code      hl7v2.AckCode
		ok        bool
		permanent bool
		status    int
	}{
		{hl7v2.AppAccept, true, false, 0},
		{hl7v2.CommitAccept, true, false, 0},
		{hl7v2.AppError, false, false, 0},
		{hl7v2.CommitError, false, false, 0},
		{hl7v2.AppReject, false, true, 200},
		{hl7v2.CommitReject, false, true, 200},
	}
	for _, tt := range tests {
		t.Run(string(tt.code), func(t *testing.T) {
			srv, c := start(t, iisOptions())
			srv.set(func(s *server) { s.ack, s.ackErrors = tt.code, errs })
			err := c.Send(context.Background(), hl7Message(outbox.Upsert, vxu))
			if tt.ok {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				return
			}
			var se *outbox.SendError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a SendError", err)
			}
			if se.Permanent != tt.permanent || se.Status != tt.status {
				t.Errorf("Permanent %v Status %d, want %v %d", se.Permanent, se.Status, tt.permanent, tt.status)
			}
			msg := err.Error()
			if want := "acknowledgment " + string(tt.code) + ": E 102 at RXA[1].10, W 101 at PID[1].11.5"; !strings.Contains(msg, want) {
				t.Errorf("error %q, want it to hold %q", msg, want)
			}
			noSecrets(t, err)
			ack, perr := hl7v2.Parse(se.Response)
			if perr != nil || ack.Get("MSA.1") != string(tt.code) || ack.Get("MSA.2") != "IMM-1" {
				t.Errorf("Response %q, want the acknowledgment", se.Response)
			}
		})
	}
}

func TestAckForAnotherMessage(t *testing.T) {
	srv, c := start(t, iisOptions())
	srv.set(func(s *server) { s.ackFor = "IMM-2" })
	err := c.Send(context.Background(), hl7Message(outbox.Upsert, vxu))
	var se *outbox.SendError
	if !errors.As(err, &se) || se.Permanent || se.Status != 0 || !strings.Contains(err.Error(), "another message") {
		t.Fatalf("got %v, want a retry for an acknowledgment of another message", err)
	}
}

func TestIISCredentialsRejected(t *testing.T) {
	srv, c := start(t, iisOptions())
	srv.set(func(s *server) { s.iis.Password = "the real one" })
	err := c.Send(context.Background(), hl7Message(outbox.Upsert, vxu))
	var se *outbox.SendError
	if !errors.As(err, &se) || !se.Permanent || se.Status != 500 {
		t.Fatalf("got %#v, want a Permanent SendError with status 500", err)
	}
	if !strings.Contains(err.Error(), "CDC SecurityFault 10") {
		t.Errorf("error %q does not name the SecurityFault", err)
	}
	noSecrets(t, err)
}

// TestAnswers: scripted answers, as real services give them.
func TestAnswers(t *testing.T) {
	const secretText = "Patient Jane SECRET-MRN-4711 already exists"
	cdc := func(el, code string) string {
		return `<` + el + ` xmlns="urn:cdc:iisb:2011"><Code>` + code + `</Code><Reason>` + secretText + `</Reason><Detail>` + secretText + `</Detail></` + el + `>`
	}
	envelope11 := func(inner string) string {
		return `<?xml version="1.0"?><s:Envelope xmlns:s="` + nsSOAP11 + `"><s:Body>` + inner + `</s:Body></s:Envelope>`
	}
	ackEnvelope := func(ack string) string {
		var b bytes.Buffer
		_ = xml.EscapeText(&b, []byte(ack))
		return envelope11(`<submitSingleMessageResponse xmlns="urn:cdc:iisb:2011"><return>` + b.String() + `</return></submitSingleMessageResponse>`)
	}
	f11 := func(code, sub, detail string) string {
		return string(faultEnvelope(V11, code, sub, secretText, detail))
	}
	f12 := func(code, sub, detail string) string {
		return string(faultEnvelope(V12, code, sub, secretText, detail))
	}
	const (
		done = iota
		retry
		dead
	)
	tests := []struct {
		name       string
		hl7        bool
		status     int
		header     http.Header
		body       string
		verdict    int
		wantStatus int
		wantErr    string
	}{
		{name: "1.1 Client", status: 500, body: f11("Client", "", ""), verdict: dead, wantStatus: 500, wantErr: "SOAP fault Client"},
		{name: "1.1 Server", status: 500, body: f11("Server", "", ""), verdict: retry, wantStatus: 500, wantErr: "SOAP fault Server"},
		{name: "1.1 Client.Authentication", status: 500, body: f11("Client.Authentication", "", ""), verdict: dead, wantStatus: 500, wantErr: "Client/Authentication"},
		{name: "1.1 wsse code", status: 500, body: f11("Client", "wsse:FailedAuthentication", ""), verdict: dead, wantStatus: 500},
		{name: "1.1 unknown code", status: 500, body: f11("Flaky", "", ""), verdict: retry, wantStatus: 500},
		{name: "1.2 Sender", status: 500, body: f12("Client", "", ""), verdict: dead, wantStatus: 500, wantErr: "SOAP fault Sender"},
		{name: "1.2 Receiver", status: 500, body: f12("Server", "", ""), verdict: retry, wantStatus: 500},
		{name: "1.2 Sender MessageExpired", status: 500, body: f12("Client", "wsse:MessageExpired", ""), verdict: retry, wantStatus: 500, wantErr: "Sender/MessageExpired"},
		{name: "1.2 VersionMismatch", status: 500, body: f12("VersionMismatch", "", ""), verdict: dead, wantStatus: 500},
		{name: "1.2 Sender at 400", status: 400, body: f12("Client", "", ""), verdict: dead, wantStatus: 400},
		{name: "Receiver at 503 with Retry-After", status: 503, header: http.Header{"Retry-After": {"9"}}, body: f12("Server", "", ""), verdict: retry, wantStatus: 503},
		{name: "CDC SecurityFault", hl7: true, status: 500, body: f11("Server", "", cdc("SecurityFault", "10")), verdict: dead, wantStatus: 500, wantErr: "CDC SecurityFault 10"},
		{name: "CDC UnknownFault", hl7: true, status: 500, body: f12("Client", "", cdc("fault", "0")), verdict: retry, wantStatus: 500, wantErr: "CDC UnknownFault 0"},
		{name: "CDC MessageTooLargeFault", hl7: true, status: 500, body: f11("Client", "", cdc("MessageTooLargeFault", "30")), verdict: retry, wantStatus: 500},
		{name: "CDC UnsupportedOperationFault", hl7: true, status: 500, body: f11("Server", "", cdc("UnsupportedOperationFault", "5")), verdict: dead, wantStatus: 500},
		{name: "Client fault at 200", status: 200, body: f11("Client", "", ""), verdict: dead, wantStatus: 200},
		{name: "Server fault at 200", status: 200, body: f11("Server", "", ""), verdict: retry, wantStatus: 0},
		{name: "HTML 500", status: 500, body: "<html><body>" + secretText + "</body></html>", verdict: retry, wantStatus: 500},
		{name: "HTML 200", status: 200, body: "<html><body>" + secretText + "</body></html>", verdict: retry, wantStatus: 0, wantErr: "not a SOAP envelope"},
		{name: "empty 200", status: 200, verdict: done},
		{name: "empty 202 envelope", status: 202, body: envelope11(""), verdict: done},
		{name: "IIS empty 200", hl7: true, status: 200, verdict: retry, wantErr: "no acknowledgment"},
		{name: "IIS other response", hl7: true, status: 200, body: envelope11(`<connectivityTestResponse xmlns="urn:cdc:iisb:2011"/>`), verdict: retry, wantErr: "not a submitSingleMessageResponse"},
		{name: "IIS return not HL7", hl7: true, status: 200, body: ackEnvelope(secretText), verdict: retry, wantErr: "acknowledgment"},
		{name: "IIS return without MSA", hl7: true, status: 200, body: ackEnvelope("MSH|^~\\&|IIS\rPID|1||SECRET\r"), verdict: retry, wantErr: "no MSA"},
		{name: "IIS unknown code", hl7: true, status: 200, body: ackEnvelope("MSH|^~\\&|IIS\rMSA|ZZ|IMM-1\r"), verdict: retry, wantErr: "MSA-1"},
		{name: "IIS ACK with LF", hl7: true, status: 200, body: ackEnvelope("MSH|^~\\&|IIS\nMSA|AA|IMM-1\n"), verdict: done},
		{name: "IIS ACK in ISO-8859-1", hl7: true, status: 200,
			body:    "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>" + ackEnvelope("MSH|^~\\&|IIS\rMSA|AA|IMM-1|M\xfcller ok\r")[len(`<?xml version="1.0"?>`):],
			verdict: done},
		{name: "IIS AR at 200 without control id", hl7: true, status: 200, body: ackEnvelope("MSH|^~\\&|IIS\rMSA|AR\rERR||MSH^1^12|203^Unsupported version id^HL70357|E\r"), verdict: dead, wantStatus: 200, wantErr: "E 203 at MSH[1].12"},
		{name: "truncated envelope 200", status: 200, body: `<s:Envelope xmlns:s="` + nsSOAP11 + `"><s:Body><s:Fault><faultcode>`, verdict: retry, wantErr: "not well-formed"},
		{name: "DOCTYPE", status: 200, body: `<!DOCTYPE x [<!ENTITY e "` + secretText + `">]>` + envelope11("<x>&e;</x>"), verdict: retry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{Action: actionUpd}
			if tt.hl7 {
				opts = iisOptions()
			}
			srv, c := start(t, opts)
			srv.Reply(tt.status, tt.header, tt.body)
			m := xmlMessage(outbox.Upsert, secretXML)
			if tt.hl7 {
				m = hl7Message(outbox.Upsert, vxu)
			}
			err := c.Send(context.Background(), m)
			if tt.verdict == done {
				if err != nil {
					t.Fatalf("Send: %v, want nil", err)
				}
				return
			}
			var se *outbox.SendError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a SendError", err)
			}
			// A 4xx is dead by its status; the fault does not need to say so.
			if wantPermanent := tt.verdict == dead && (tt.wantStatus < 400 || tt.wantStatus >= 500); se.Permanent != wantPermanent {
				t.Errorf("Permanent = %v, want %v", se.Permanent, wantPermanent)
			}
			if se.Status != tt.wantStatus {
				t.Errorf("Status = %d, want %d", se.Status, tt.wantStatus)
			}
			if tt.header.Get("Retry-After") == "9" && se.RetryAfter != 9*time.Second {
				t.Errorf("RetryAfter = %v", se.RetryAfter)
			}
			if tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to hold %q", err, tt.wantErr)
			}
			if tt.body != "" && len(se.Response) == 0 {
				t.Error("the answer is not kept in Response")
			}
			noSecrets(t, err)
		})
	}
}

func TestPermanent(t *testing.T) {
	adt := strings.Replace(vxu, "VXU^V04^VXU_V04", "ADT^A08^ADT_A01", 1)
	badKey := xmlMessage(outbox.Upsert, secretXML)
	badKey.IdempotencyKey = "k\r\nX-Injected: 1"
	json := xmlMessage(outbox.Upsert, `{"mrn":"SECRET-MRN-4711"}`)
	json.ContentType = "application/json"
	tests := []struct {
		name string
		opts Options
		m    outbox.Message
		want string
	}{
		{"JSON", Options{}, json, `not "application/json"`},
		{"not well-formed", Options{}, xmlMessage(outbox.Upsert, `<a><b>SECRET</a>`), "not well-formed XML (line 1)"},
		{"two elements", Options{}, xmlMessage(outbox.Upsert, `<a>SECRET</a><b/>`), "more than one"},
		{"text outside", Options{}, xmlMessage(outbox.Upsert, `SECRET<a/>`), "text outside"},
		{"an envelope", Options{}, xmlMessage(outbox.Upsert, string(envelope(V11, nil, []byte("<a/>")))), "is a SOAP envelope"},
		{"DOCTYPE", Options{}, xmlMessage(outbox.Upsert, `<!DOCTYPE a><a>SECRET</a>`), "DOCTYPE"},
		{"processing instruction", Options{}, xmlMessage(outbox.Upsert, `<a><?php SECRET ?></a>`), "processing instruction"},
		{"Latin-1", Options{}, xmlMessage(outbox.Upsert, "<a>M\xfcller SECRET</a>"), "not UTF-8"},
		{"declared Latin-1", Options{}, xmlMessage(outbox.Upsert, `<?xml version="1.0" encoding="ISO-8859-1"?><a>SECRET</a>`), "not UTF-8"},
		{"no body", Options{}, xmlMessage(outbox.Upsert, " "), "without a body"},
		{"HL7 not a message", iisOptions(), hl7Message(outbox.Upsert, "PID|1||SECRET\r"), "hl7v2"},
		{"HL7 with MLLP framing", iisOptions(), hl7Message(outbox.Upsert, "\x0b"+vxu+"\x1c\r"), "XML cannot carry"},
		{"HL7 no body", iisOptions(), hl7Message(outbox.Upsert, ""), "without a body"},
		{"delete without operation", Options{}, xmlMessage(outbox.Delete, secretXML), "no delete operation"},
		{"delete without id", Options{Delete: &DeleteOperation{Action: "urn:del", Element: "DeletePatient"}}, func() outbox.Message {
			m := xmlMessage(outbox.Delete, secretXML)
			m.RecordID = ""
			return m
		}(), "no id"},
		{"delete of an ADT", iisOptions(), hl7Message(outbox.Delete, adt), "only a VXU"},
		{"delete of a VXU without RXA", iisOptions(), hl7Message(outbox.Delete, strings.Split(vxu, "\r")[0]+"\r"), "no RXA"},
		{"unknown op", Options{}, xmlMessage("merge", secretXML), "unknown operation"},
		{"idempotency key", Options{}, badKey, "idempotency key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := start(t, tt.opts)
			err := c.Send(context.Background(), tt.m)
			var se *outbox.SendError
			if !errors.As(err, &se) || !se.Permanent || se.Status != 0 {
				t.Fatalf("got %#v, want a Permanent SendError", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to hold %q", err, tt.want)
			}
			noSecrets(t, err)
			if n := len(srv.Requests()); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	t.Run("operation", func(t *testing.T) {
		opts := Options{Delete: &DeleteOperation{Action: "urn:hms:patients/DeletePatient", Namespace: "urn:hms:patients", Element: "DeletePatient"}}
		srv, c := start(t, opts)
		srv.set(func(s *server) { s.action = opts.Delete.Action })
		m := xmlMessage(outbox.Delete, secretXML)
		m.RecordID = "P<1>&2"
		if err := c.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		r := only(t, srv)
		if want := `<DeletePatient xmlns="urn:hms:patients"><id>P&lt;1&gt;&amp;2</id></DeletePatient>`; r.Payload != want {
			t.Errorf("Body holds %q, want %q", r.Payload, want)
		}
		if r.Action != opts.Delete.Action {
			t.Errorf("action %q", r.Action)
		}
	})
	t.Run("VXU", func(t *testing.T) {
		srv, c := start(t, iisOptions())
		two := strings.Replace(vxu, "RXR|", "RXA|0|1|20240615093000||03^MMR^CVX|999||||||||||||CP|A\rRXR|", 1)
		if err := c.Send(context.Background(), hl7Message(outbox.Delete, two)); err != nil {
			t.Fatal(err)
		}
		m, err := hl7v2.Parse([]byte(only(t, srv).HL7))
		if err != nil {
			t.Fatal(err)
		}
		if got := m.GetAll("RXA.21"); len(got) != 2 || got[0] != "D" || got[1] != "D" {
			t.Errorf("RXA-21 %q, want D for both", got)
		}
		if m.Get("PID.5.1") != "Secretperson" || m.Get("MSH.10") != "IMM-1" {
			t.Error("the rest of the VXU changed")
		}
	})
}

// TestDefaultClient: without a client, Delivery.Timeout bounds an attempt.
func TestDefaultClient(t *testing.T) {
	srv := startServer(t)
	srv.SetDelay(time.Minute)
	cfg := connector.Config{Name: "iis", Type: connector.SOAP, Endpoint: srv.URL()}
	cfg.Delivery.Timeout = connector.Duration(100 * time.Millisecond)
	c, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = c.Send(context.Background(), hl7Message(outbox.Upsert, vxu))
	var se *outbox.SendError
	if !errors.As(err, &se) || se.Status != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want a SendError with status 0 for the deadline", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
}

func TestNew(t *testing.T) {
	const endpoint = "https://iis.example/soap"
	tests := []struct {
		name     string
		endpoint string
		typ      connector.Type
		opts     Options
		err      string
	}{
		{name: "plain", endpoint: endpoint},
		{name: "full", endpoint: "http://127.0.0.1:8080/iis?wsdl=no", typ: "SOAP", opts: Options{Version: V12, Action: "urn:x:y",
			Security: &UsernameToken{Username: "u", Password: "p", Digest: true}, IIS: IIS{Username: "u", Password: "p", FacilityID: "F"},
			Delete: &DeleteOperation{Action: "urn:x:del", Namespace: "urn:x", Element: "Delete"}}},
		{name: "no endpoint", err: "missing"},
		{name: "not http", endpoint: "ftp://iis.example/", err: "http or https"},
		{name: "credentials", endpoint: "https://u:SECRET@iis.example/", err: "credentials"},
		{name: "fragment", endpoint: endpoint + "#x", err: "fragment"},
		{name: "type", endpoint: endpoint, typ: connector.REST, err: `not "soap"`},
		{name: "version", endpoint: endpoint, opts: Options{Version: "2.0"}, err: "version"},
		{name: "action quote", endpoint: endpoint, opts: Options{Action: `urn:"x`}, err: "action"},
		{name: "action newline", endpoint: endpoint, opts: Options{Action: "urn:x\r\nX: y"}, err: "action"},
		{name: "security without user", endpoint: endpoint, opts: Options{Security: &UsernameToken{Password: "SECRET"}}, err: "username missing"},
		{name: "security control character", endpoint: endpoint, opts: Options{Security: &UsernameToken{Username: "u", Password: "SECRET\x00"}}, err: "XML cannot carry"},
		{name: "iis control character", endpoint: endpoint, opts: Options{IIS: IIS{Password: "SECRET\x01"}}, err: "XML cannot carry"},
		{name: "delete without action", endpoint: endpoint, opts: Options{Delete: &DeleteOperation{Element: "D"}}, err: "delete: action"},
		{name: "delete bad element", endpoint: endpoint, opts: Options{Delete: &DeleteOperation{Action: "a", Element: "x:D"}}, err: "delete: element"},
		{name: "delete bad id element", endpoint: endpoint, opts: Options{Delete: &DeleteOperation{Action: "a", Element: "D", IDElement: "1d"}}, err: "idElement"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewWith(connector.Config{Name: "iis", Type: tt.typ, Endpoint: tt.endpoint}, tt.opts, nil)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error about %q", err, tt.err)
				}
				noSecrets(t, err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.cfg.timeout != defaultTimeout {
				t.Errorf("timeout %v", c.cfg.timeout)
			}
		})
	}
}

// TestOptionsCopied: changing Options after NewWith changes nothing.
func TestOptionsCopied(t *testing.T) {
	opts := Options{Security: &UsernameToken{Username: "u"}, Delete: &DeleteOperation{Action: "a", Element: "D"}}
	c, err := NewWith(connector.Config{Endpoint: "https://iis.example/"}, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts.Security.Username, opts.Delete.Element = "x", "y"
	if c.cfg.opts.Security.Username != "u" || c.cfg.opts.Delete.Element != "D" || c.cfg.opts.Delete.IDElement != "id" {
		t.Errorf("options %+v %+v", c.cfg.opts.Security, c.cfg.opts.Delete)
	}
}

func TestPasswordDigest(t *testing.T) {
	// Computed independently: printf '\x00…\x0f2024-06-15T10:15:02.000Zpw' | sha1sum | xxd -r -p | base64
	nonce := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	if got, want := passwordDigestOf(nonce, "2024-06-15T10:15:02.000Z", "pw"), digestVector; got != want {
		t.Errorf("digest %s, want %s", got, want)
	}
}

// digestVector is the PasswordDigest of TestPasswordDigest, computed with
// sha1sum and base64.
const digestVector = "9FZq+RTesxMjh1eL1/giKPgvhd4="

// noSecrets fails when err shows patient data or a credential.
func noSecrets(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	for _, s := range append(secrets, iisSecret, wssSecret, "already exists", "Administering", "not found") {
		if strings.Contains(msg, s) {
			t.Errorf("error shows %q: %s", s, msg)
		}
	}
}

// FuzzPayload: a body payloadOf accepts is one element that, put in an
// envelope, reads back as the Body's element, with the same name.
func FuzzPayload(f *testing.F) {
	f.Add([]byte(secretXML))
	f.Add([]byte(`<a xmlns="urn:x"><b>t&amp;</b></a>`))
	f.Add([]byte(`<?xml version="1.0"?><a/><!-- c -->`))
	f.Add([]byte(`<s:Fault xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"/>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		payload, root, err := payloadOf(body)
		if err != nil {
			if strings.Contains(err.Error(), string(body)) && len(body) > 8 {
				t.Fatalf("error quotes the body: %v", err)
			}
			return
		}
		a, err := readAnswer(envelope(V11, nil, payload), true)
		if err != nil {
			t.Fatalf("payload %q of %q does not read back: %v", payload, body, err)
		}
		if a.payload.Local != root {
			t.Fatalf("payload %q reads back as %v, want %s", payload, a.payload, root)
		}
	})
}

// FuzzAnswer: readAnswer never panics, and its errors are its own.
func FuzzAnswer(f *testing.F) {
	f.Add([]byte(faultEnvelope(V11, "Client", "", "x", `<SecurityFault xmlns="urn:cdc:iisb:2011"><Code>10</Code></SecurityFault>`)))
	f.Add([]byte(faultEnvelope(V12, "Server", "wsse:MessageExpired", "x", "")))
	f.Add([]byte(`<s:Envelope xmlns:s="` + nsSOAP12 + `"><s:Body><submitSingleMessageResponse xmlns="urn:cdc:iisb:2011"><return>MSH|^~\&amp;|X&#xD;MSA|AA|1</return></submitSingleMessageResponse></s:Body></s:Envelope>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := readAnswer(body, true)
		if err != nil && !errors.Is(err, errNotEnvelope) && !errors.Is(err, errBadAnswer) {
			t.Fatalf("error %v", err)
		}
		if a.fault != nil {
			_ = a.fault.String()
			_ = a.fault.verdict()
		}
	})
}
