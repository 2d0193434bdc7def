package soap

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liaisonhq/liaison/transform/hl7v2"
)

// server is a SOAP service for tests that behaves like a state IIS
// endpoint of the CDC WSDL and, for any other operation, like a plain
// document/literal service. It checks what a real one checks — the media
// type and action, the envelope's namespace, WS-Security (PasswordText or
// PasswordDigest, nonce reuse, freshness), mustUnderstand headers, the
// submitSingleMessage credentials — and answers with SOAP faults where a
// real one would. submitSingleMessage is answered with an acknowledgment
// that hl7v2.NewAck builds for the message received. It implements
// adaptertest.Target; FailNext answers a SOAP fault (Server/Receiver for
// 408, 429 and 5xx, Client/Sender for others) whose detail carries an
// OperationOutcome, as the Target contract asks. Safe for concurrent use.
type server struct {
	ts     *httptest.Server
	closed chan struct{}

	mu sync.Mutex
	// What the service expects; set before the first request.
	version  Version        // "": both
	action   string         // of operations other than submitSingleMessage
	security *UsernameToken // nil: no WS-Security
	iis      IIS            // the zero IIS: any credentials
	// How it answers submitSingleMessage.
	ack       hl7v2.AckCode // "": AA
	ackErrors []hl7v2.AckError
	ackFor    string // when set, MSA-2 of every acknowledgment

	replies    []reply // scripted answers, before anything else
	failN      int
	failStatus int
	retryAfter string
	delay      time.Duration
	reqs       []received
	nonces     map[string]bool
}

// reply is one scripted answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// received is one request the server received.
type received struct {
	Header http.Header
	Body   []byte
	// What the server read from it.
	Version     Version
	Action      string
	Operation   xml.Name // the Body's element
	HL7         string   // submitSingleMessage's hl7Message
	Credentials IIS      // submitSingleMessage's username, password and facilityID
	Payload     string   // the Body's inner XML
	Token       *tokenIn // the UsernameToken, when there was one
}

func startServer(t testing.TB) *server {
	t.Helper()
	s := &server{closed: make(chan struct{}), nonces: map[string]bool{}}
	s.ts = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		close(s.closed)
		s.ts.Close()
	})
	return s
}

func (s *server) URL() string { return s.ts.URL + "/iis/soap" }

// set changes the server's settings under its lock.
func (s *server) set(f func(s *server)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// Reply makes the next request (after those already scripted) get this
// answer, whatever it holds.
func (s *server) Reply(status int, header http.Header, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies = append(s.replies, reply{status: status, header: header, body: []byte(body)})
}

func (s *server) FailNext(n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStatus, s.retryAfter = max(n, 0), status, retryAfter
}

func (s *server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

func (s *server) Requests() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]received, len(s.reqs))
	for i, r := range s.reqs {
		r.Header = r.Header.Clone()
		out[i] = r
	}
	return out
}

func (s *server) Headers() []http.Header {
	reqs := s.Requests()
	out := make([]http.Header, len(reqs))
	for i, r := range reqs {
		out[i] = r.Header
	}
	return out
}

// The envelope as the server reads it.
type envelopeIn struct {
	XMLName xml.Name
	Header  struct {
		Blocks []struct {
			XMLName        xml.Name
			MustUnderstand string   `xml:"mustUnderstand,attr"`
			Token          *tokenIn `xml:"UsernameToken"`
		} `xml:",any"`
	} `xml:"Header"`
	Body struct {
		Inner    []byte `xml:",innerxml"`
		Elements []struct {
			XMLName    xml.Name
			Username   string `xml:"urn:cdc:iisb:2011 username"`
			Password   string `xml:"urn:cdc:iisb:2011 password"`
			FacilityID string `xml:"urn:cdc:iisb:2011 facilityID"`
			HL7Message string `xml:"urn:cdc:iisb:2011 hl7Message"`
		} `xml:",any"`
	} `xml:"Body"`
}

type tokenIn struct {
	Username string `xml:"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd Username"`
	Password struct {
		Type  string `xml:"Type,attr"`
		Value string `xml:",chardata"`
	} `xml:"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd Password"`
	Nonce struct {
		EncodingType string `xml:"EncodingType,attr"`
		Value        string `xml:",chardata"`
	} `xml:"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd Nonce"`
	Created string `xml:"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd Created"`
}

func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	rec := received{Header: r.Header.Clone(), Body: body}
	s.mu.Lock()
	idx := len(s.reqs)
	s.reqs = append(s.reqs, rec)
	delay := s.delay
	s.mu.Unlock()
	update := func(f func(*received)) {
		s.mu.Lock()
		defer s.mu.Unlock()
		f(&s.reqs[idx])
	}

	if delay > 0 {
		timer := time.NewTimer(delay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-s.closed:
		case <-r.Context().Done():
			return
		}
	}

	v := V11
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/soap+xml") {
		v = V12
	}
	s.mu.Lock()
	var scripted *reply
	if len(s.replies) > 0 {
		scripted = &s.replies[0]
		s.replies = s.replies[1:]
	}
	fail, status, retryAfter := s.failN > 0, s.failStatus, s.retryAfter
	if fail && scripted == nil {
		s.failN--
	}
	s.mu.Unlock()
	switch {
	case scripted != nil:
		for k, vs := range scripted.header {
			w.Header()[k] = vs
		}
		w.WriteHeader(scripted.status)
		_, _ = w.Write(scripted.body)
		return
	case fail:
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		code := "Client"
		if status == 408 || status == 429 || status >= 500 {
			code = "Server"
		}
		writeFault(w, v, status, code, "", "injected failure",
			fmt.Sprintf(`<outcome xmlns="urn:test">{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing","diagnostics":%q}]}</outcome>`,
				"injected failure: "+http.StatusText(status)))
		return
	}

	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var action string
	switch mt {
	case "text/xml":
		a, ok := r.Header["Soapaction"]
		if !ok || len(a[0]) < 2 || a[0][0] != '"' || a[0][len(a[0])-1] != '"' {
			writeFault(w, v, 500, "Client", "", "SOAPAction header missing or not quoted", "")
			return
		}
		action = a[0][1 : len(a[0])-1]
	case "application/soap+xml":
		action = params["action"]
	default:
		w.WriteHeader(http.StatusUnsupportedMediaType)
		return
	}
	s.mu.Lock()
	wantVersion, wantAction, security, creds := s.version, s.action, s.security, s.iis
	s.mu.Unlock()
	if wantVersion != "" && wantVersion != v {
		w.WriteHeader(http.StatusUnsupportedMediaType)
		return
	}

	var env envelopeIn
	if err := xml.Unmarshal(body, &env); err != nil {
		writeFault(w, v, 500, "Client", "", "malformed envelope", "")
		return
	}
	if env.XMLName.Local != "Envelope" || env.XMLName.Space != v.namespace() {
		writeFault(w, v, 500, "VersionMismatch", "", "wrong envelope namespace", "")
		return
	}
	var token *tokenIn
	for _, b := range env.Header.Blocks {
		if b.XMLName.Space == nsWSSE && b.XMLName.Local == "Security" {
			token = b.Token
			if security == nil && (b.MustUnderstand == "1" || b.MustUnderstand == "true") {
				writeFault(w, v, 500, "MustUnderstand", "", "wsse:Security not understood", "")
				return
			}
		}
	}
	update(func(rec *received) {
		rec.Version, rec.Action, rec.Token, rec.Payload = v, action, token, string(env.Body.Inner)
	})
	if security != nil {
		if code, ok := s.checkToken(token, security); !ok {
			writeFault(w, v, 500, "Client", code, "security token rejected", "")
			return
		}
	}
	if len(env.Body.Elements) != 1 {
		writeFault(w, v, 500, "Client", "", "want one element in the Body", "")
		return
	}
	op := env.Body.Elements[0]
	update(func(rec *received) { rec.Operation = op.XMLName })

	if op.XMLName != (xml.Name{Space: nsIIS, Local: "submitSingleMessage"}) {
		if action != wantAction {
			writeFault(w, v, 500, "Client", "", "action does not match the operation", "")
			return
		}
		w.Header().Set("Content-Type", v.mediaType(""))
		fmt.Fprintf(w, `<?xml version="1.0"?><env:Envelope xmlns:env=%q><env:Body><m:%sResponse xmlns:m=%q/></env:Body></env:Envelope>`,
			v.namespace(), op.XMLName.Local, op.XMLName.Space)
		return
	}

	update(func(rec *received) {
		rec.HL7 = op.HL7Message
		rec.Credentials = IIS{Username: op.Username, Password: op.Password, FacilityID: op.FacilityID}
	})
	if action != IISAction {
		writeFault(w, v, 500, "Client", "", "action is not submitSingleMessage's", "")
		return
	}
	if creds != (IIS{}) && (op.Username != creds.Username || op.Password != creds.Password || op.FacilityID != creds.FacilityID) {
		writeFault(w, v, 500, "Client", "", "Security fault",
			`<SecurityFault xmlns="urn:cdc:iisb:2011"><Code>10</Code><Reason>Security</Reason><Detail>bad credentials</Detail></SecurityFault>`)
		return
	}
	msg, err := hl7v2.Parse([]byte(op.HL7Message))
	if err != nil {
		writeFault(w, v, 500, "Client", "", "not an HL7 message", "")
		return
	}
	s.mu.Lock()
	code, errs, ackFor := s.ack, s.ackErrors, s.ackFor
	s.mu.Unlock()
	if code == "" {
		code = hl7v2.AppAccept
	}
	ack, err := hl7v2.NewAck(msg, code, hl7v2.AckOptions{Errors: errs, Time: time.Date(2024, 6, 15, 10, 15, 2, 0, time.UTC)})
	if err != nil {
		writeFault(w, v, 500, "Server", "", "cannot acknowledge", "")
		return
	}
	if ackFor != "" {
		_ = ack.Set("MSA.2", ackFor)
	}
	var b bytes.Buffer
	_ = xml.EscapeText(&b, hl7v2.Encode(ack))
	w.Header().Set("Content-Type", v.mediaType(""))
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap=%q><soap:Body>`+
		`<submitSingleMessageResponse xmlns="urn:cdc:iisb:2011"><return>%s</return></submitSingleMessageResponse>`+
		`</soap:Body></soap:Envelope>`, v.namespace(), b.String())
}

// checkToken verifies a UsernameToken against the expected one, as a
// WS-Security stack does: the password (text, or digest over nonce and
// created), a nonce not seen before, and a creation time within five
// minutes. It returns the WS-Security fault code when it fails.
func (s *server) checkToken(t *tokenIn, want *UsernameToken) (string, bool) {
	if t == nil {
		return "wsse:InvalidSecurity", false
	}
	if t.Username != want.Username {
		return "wsse:FailedAuthentication", false
	}
	if !want.Digest {
		ok := t.Password.Type == passwordText && subtle.ConstantTimeCompare([]byte(t.Password.Value), []byte(want.Password)) == 1
		if !ok {
			return "wsse:FailedAuthentication", false
		}
		return "", true
	}
	if t.Password.Type != passwordDigest || t.Nonce.EncodingType != base64Binary {
		return "wsse:UnsupportedSecurityToken", false
	}
	created, err := time.Parse(time.RFC3339Nano, t.Created)
	if err != nil {
		return "wsse:InvalidSecurityToken", false
	}
	if d := time.Since(created); d > 5*time.Minute || d < -5*time.Minute {
		return "wsse:MessageExpired", false
	}
	nonce, err := base64.StdEncoding.DecodeString(t.Nonce.Value)
	if err != nil || len(nonce) == 0 {
		return "wsse:InvalidSecurityToken", false
	}
	s.mu.Lock()
	replay := s.nonces[t.Nonce.Value]
	s.nonces[t.Nonce.Value] = true
	s.mu.Unlock()
	if replay {
		return "wsse:FailedAuthentication", false
	}
	want64 := passwordDigestOf(nonce, t.Created, want.Password)
	if subtle.ConstantTimeCompare([]byte(t.Password.Value), []byte(want64)) != 1 {
		return "wsse:FailedAuthentication", false
	}
	return "", true
}

// writeFault answers a SOAP fault of version v with HTTP status: code is a
// SOAP 1.1 code (Client, Server, VersionMismatch, MustUnderstand), mapped
// to 1.2's Sender and Receiver; sub is a WS-Security code, the faultcode
// itself in 1.1 and a Subcode in 1.2; detail is XML.
func writeFault(w http.ResponseWriter, v Version, status int, code, sub, reason, detail string) {
	w.Header().Set("Content-Type", v.mediaType(""))
	w.WriteHeader(status)
	_, _ = w.Write(faultEnvelope(v, code, sub, reason, detail))
}

func faultEnvelope(v Version, code, sub, reason, detail string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap=%q xmlns:wsse=%q><soap:Body><soap:Fault>`, v.namespace(), nsWSSE)
	if v == V11 {
		fc := "soap:" + code
		if sub != "" {
			fc = sub
		}
		fmt.Fprintf(&b, "<faultcode>%s</faultcode><faultstring>%s</faultstring>", fc, reason)
		if detail != "" {
			b.WriteString("<detail>" + detail + "</detail>")
		}
	} else {
		switch code {
		case "Client":
			code = "Sender"
		case "Server":
			code = "Receiver"
		}
		fmt.Fprintf(&b, "<soap:Code><soap:Value>soap:%s</soap:Value>", code)
		if sub != "" {
			fmt.Fprintf(&b, "<soap:Subcode><soap:Value>%s</soap:Value></soap:Subcode>", sub)
		}
		fmt.Fprintf(&b, `</soap:Code><soap:Reason><soap:Text xml:lang="en">%s</soap:Text></soap:Reason>`, reason)
		if detail != "" {
			b.WriteString("<soap:Detail>" + detail + "</soap:Detail>")
		}
	}
	b.WriteString("</soap:Fault></soap:Body></soap:Envelope>")
	return b.Bytes()
}
