package main

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
)

// captured is one request a test service received.
type captured struct {
	header http.Header
	body   []byte
}

// service is a test service on 127.0.0.1 that answers every request with
// answer, as contentType, and keeps the requests.
type service struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []captured
}

func startService(t *testing.T, contentType, answer string) *service {
	t.Helper()
	s := &service{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, captured{r.Header.Clone(), body})
		s.mu.Unlock()
		if r.Method != http.MethodPost {
			http.Error(w, "want POST", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", contentType)
		io.WriteString(w, answer)
	}))
	t.Cleanup(s.Close)
	return s
}

// only returns the one request s received.
func (s *service) only(t *testing.T) captured {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(s.reqs))
	}
	return s.reqs[0]
}

// parseConnector parses and validates a registration body, as the
// gateway does, with ENDPOINT replaced by endpoint.
func parseConnector(t *testing.T, body, endpoint string) connector.Config {
	t.Helper()
	cfg, err := connector.Parse([]byte(strings.ReplaceAll(body, "ENDPOINT", endpoint)))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return cfg
}

// send builds the sender of cfg's type from the registry, with no HTTP
// client (the adapter's own), and sends m.
func send(t *testing.T, cfg connector.Config, m outbox.Message) {
	t.Helper()
	adapter := adapters()[cfg.Type]
	if adapter == nil {
		t.Fatalf("no adapter for type %s", cfg.Type)
	}
	sender, err := adapter(cfg, nil)
	if err != nil {
		t.Fatalf("adapter: %v", err)
	}
	if err := sender.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
}

// soapEnvelope is what the tests read of a SOAP request.
type soapEnvelope struct {
	XMLName xml.Name
	Token   struct {
		Username string `xml:"Username"`
		Password struct {
			Type  string `xml:"Type,attr"`
			Value string `xml:",chardata"`
		} `xml:"Password"`
		Nonce   string `xml:"Nonce"`
		Created string `xml:"Created"`
	} `xml:"Header>Security>UsernameToken"`
	Body struct {
		Inner string `xml:",innerxml"`
		IIS   struct {
			Username   string `xml:"username"`
			Password   string `xml:"password"`
			FacilityID string `xml:"facilityID"`
			HL7Message string `xml:"hl7Message"`
		} `xml:"submitSingleMessage"`
	} `xml:"Body"`
}

const (
	nsSOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
	nsSOAP12 = "http://www.w3.org/2003/05/soap-envelope"
)

func TestSOAPAdapter(t *testing.T) {
	t.Run("XML record, SOAP 1.1 with a WS-Security digest", func(t *testing.T) {
		const wssPassword = "wss-pass-word"
		t.Setenv("LIAISON_TEST_WSS_PASSWORD", wssPassword)
		srv := startService(t, "text/xml; charset=utf-8",
			`<?xml version="1.0"?><soap:Envelope xmlns:soap="`+nsSOAP11+`"><soap:Body><UpdatePatientResponse xmlns="urn:hms:patients"/></soap:Body></soap:Envelope>`)
		cfg := parseConnector(t, `{"name": "PatientService", "type": "SOAP", "endpoint": "ENDPOINT",
		  "soap": {"version": "1.1", "action": "urn:hms:patients/UpdatePatient",
		    "wsSecurity": {"username": "liaison", "password": "env:LIAISON_TEST_WSS_PASSWORD", "digest": true},
		    "delete": {"action": "urn:hms:patients/DeletePatient", "namespace": "urn:hms:patients", "element": "DeletePatient"}}}`, srv.URL)

		const record = `<UpdatePatient xmlns="urn:hms:patients"><id>P1</id><name>Jane Doe</name></UpdatePatient>`
		send(t, cfg, outbox.Message{ID: "m1", Connector: "c1", RecordType: "Patient", RecordID: "P1", Op: outbox.Upsert,
			Body: []byte(record), ContentType: "application/xml", IdempotencyKey: "key-1", Attempt: 1})

		req := srv.only(t)
		if got := req.header.Get("SOAPAction"); got != `"urn:hms:patients/UpdatePatient"` {
			t.Errorf("SOAPAction = %q", got)
		}
		if mt, _, _ := mime.ParseMediaType(req.header.Get("Content-Type")); mt != "text/xml" {
			t.Errorf("Content-Type = %q, want text/xml", req.header.Get("Content-Type"))
		}
		if got := req.header.Get("Idempotency-Key"); got != "key-1" {
			t.Errorf("Idempotency-Key = %q", got)
		}
		var env soapEnvelope
		if err := xml.Unmarshal(req.body, &env); err != nil {
			t.Fatalf("the request is not XML: %v\n%s", err, req.body)
		}
		if env.XMLName != (xml.Name{Space: nsSOAP11, Local: "Envelope"}) {
			t.Errorf("root = %v, want a SOAP 1.1 Envelope", env.XMLName)
		}
		if got := strings.TrimSpace(env.Body.Inner); got != record {
			t.Errorf("soap:Body holds %s, want %s", got, record)
		}
		tok := env.Token
		if tok.Username != "liaison" || !strings.HasSuffix(tok.Password.Type, "#PasswordDigest") {
			t.Fatalf("UsernameToken = %+v, want liaison's with a PasswordDigest", tok)
		}
		nonce, err := base64.StdEncoding.DecodeString(tok.Nonce)
		if err != nil || len(nonce) == 0 || tok.Created == "" {
			t.Fatalf("UsernameToken nonce %q, created %q", tok.Nonce, tok.Created)
		}
		sum := sha1.Sum(append(append(nonce, tok.Created...), wssPassword...))
		if want := base64.StdEncoding.EncodeToString(sum[:]); tok.Password.Value != want {
			t.Errorf("PasswordDigest = %q, want %q (from the env: password)", tok.Password.Value, want)
		}
		if bytes.Contains(req.body, []byte(wssPassword)) {
			t.Errorf("the request holds the password in clear")
		}
	})

	t.Run("HL7 v2 to an IIS, SOAP 1.2", func(t *testing.T) {
		dir := t.TempDir()
		pwFile := filepath.Join(dir, "iis-password")
		if err := os.WriteFile(pwFile, []byte("iis-pass-word\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		ack := "MSH|^~\\&|IIS|STATE|LIAISON|CLINIC|20240615093001||ACK^V04^ACK|ACK-1|P|2.5.1\rMSA|AA|IMM-1\r"
		var esc bytes.Buffer
		_ = xml.EscapeText(&esc, []byte(ack))
		srv := startService(t, "application/soap+xml; charset=utf-8",
			`<?xml version="1.0"?><soap:Envelope xmlns:soap="`+nsSOAP12+`"><soap:Body>`+
				`<submitSingleMessageResponse xmlns="urn:cdc:iisb:2011"><return>`+esc.String()+`</return></submitSingleMessageResponse>`+
				`</soap:Body></soap:Envelope>`)
		cfg := parseConnector(t, `{"name": "StateIIS", "type": "soap", "endpoint": "ENDPOINT",
		  "soap": {"version": "1.2", "facilityId": "CLINIC-1", "username": "clinic", "password": "file:`+filepath.ToSlash(pwFile)+`"}}`, srv.URL)

		vxu := strings.Join([]string{
			`MSH|^~\&|LIAISON|CLINIC|IIS|STATE|20240615093000||VXU^V04^VXU_V04|IMM-1|P|2.5.1|||ER|AL`,
			`PID|1||MRN-1^^^HMS^MR||Doe^Jane||20230815|F`,
			`RXA|0|1|20240615093000||08^Hep B^CVX|0.5|mL^^UCUM||00^New^NIP001||||||EZ342|20250301|||CP|A`,
		}, "\r") + "\r"
		send(t, cfg, outbox.Message{ID: "m2", Connector: "c2", RecordType: "Immunization", RecordID: "IMM-1", Op: outbox.Upsert,
			Body: []byte(vxu), ContentType: "x-application/hl7-v2+er7", IdempotencyKey: "key-2", Attempt: 1})

		req := srv.only(t)
		mt, params, _ := mime.ParseMediaType(req.header.Get("Content-Type"))
		if mt != "application/soap+xml" || params["action"] != "urn:cdc:iisb:2011:submitSingleMessage" {
			t.Errorf("Content-Type = %q, want application/soap+xml with the submitSingleMessage action", req.header.Get("Content-Type"))
		}
		var env soapEnvelope
		if err := xml.Unmarshal(req.body, &env); err != nil {
			t.Fatalf("the request is not XML: %v\n%s", err, req.body)
		}
		if env.XMLName.Space != nsSOAP12 {
			t.Errorf("envelope namespace %q, want SOAP 1.2's", env.XMLName.Space)
		}
		iis := env.Body.IIS
		if iis.Username != "clinic" || iis.Password != "iis-pass-word" || iis.FacilityID != "CLINIC-1" {
			t.Errorf("submitSingleMessage username %q, password %q, facilityID %q; want the configured ones, the password from its file",
				iis.Username, iis.Password, iis.FacilityID)
		}
		if iis.HL7Message != vxu {
			t.Errorf("hl7Message = %q, want the VXU", iis.HL7Message)
		}
	})
}

func TestGraphQLAdapter(t *testing.T) {
	const mutation = "mutation UpsertPatient($input: PatientInput!) {\n  upsertPatient(input: $input) { id }\n}\n"
	doc := filepath.Join(t.TempDir(), "upsert-patient.graphql")
	if err := os.WriteFile(doc, []byte(mutation), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startService(t, "application/graphql-response+json", `{"data": {"upsertPatient": {"id": "P1"}}}`)
	cfg := parseConnector(t, `{"name": "Portal", "type": "GraphQL", "endpoint": "ENDPOINT",
	  "graphql": {"mutation": "file:`+filepath.ToSlash(doc)+`", "inputVariable": "input",
	    "deleteMutation": "mutation DeletePatient($id: ID!) { deletePatient(id: $id) { id } }",
	    "retryCodes": ["TIMEOUT", "RATE_LIMITED"]}}`, srv.URL)

	const record = `{"id": "P1", "name": {"family": "Doe", "given": ["Jane"]}}`
	send(t, cfg, outbox.Message{ID: "m3", Connector: "c3", RecordType: "Patient", RecordID: "P1", Op: outbox.Upsert,
		Body: []byte(record), ContentType: "application/json", IdempotencyKey: "key-3", Attempt: 1})

	req := srv.only(t)
	if mt, _, _ := mime.ParseMediaType(req.header.Get("Content-Type")); mt != "application/json" {
		t.Errorf("Content-Type = %q", req.header.Get("Content-Type"))
	}
	if got := req.header.Get("Idempotency-Key"); got != "key-3" {
		t.Errorf("Idempotency-Key = %q", got)
	}
	var got struct {
		Query         string         `json:"query"`
		OperationName string         `json:"operationName"`
		Variables     map[string]any `json:"variables"`
	}
	if err := json.Unmarshal(req.body, &got); err != nil {
		t.Fatalf("the request is not JSON: %v\n%s", err, req.body)
	}
	if got.Query != mutation {
		t.Errorf("query = %q, want the mutation from its file", got.Query)
	}
	if got.OperationName != "UpsertPatient" {
		t.Errorf("operationName = %q", got.OperationName)
	}
	var input any
	_ = json.Unmarshal([]byte(record), &input)
	if want := map[string]any{"input": input}; !reflect.DeepEqual(got.Variables, want) {
		t.Errorf("variables = %v, want %v", got.Variables, want)
	}
}

// TestAdapterSettingErrors checks that a setting the adapter cannot use
// is an error naming the field, and never shows a secret.
func TestAdapterSettingErrors(t *testing.T) {
	const secret = "s3cr3t-MARKER"
	t.Setenv("LIAISON_TEST_EMPTY", "")
	missing := filepath.Join(t.TempDir(), "missing.graphql")
	tests := []struct {
		name  string
		cfg   connector.Config
		field string // the *connector.FieldError's, "" for any error
		msg   string
	}{
		{"soap password unset", connector.Config{Name: "s", Type: connector.SOAP, Endpoint: "https://x.test",
			SOAP: &connector.SOAPOptions{Password: "env:LIAISON_TEST_UNSET_" + "X"}}, "soap.password", "not set"},
		{"wsSecurity password empty", connector.Config{Name: "s", Type: connector.SOAP, Endpoint: "https://x.test",
			SOAP: &connector.SOAPOptions{WSSecurity: &connector.WSSecurity{Username: "u", Password: "env:LIAISON_TEST_EMPTY"}}}, "soap.wsSecurity.password", "empty"},
		{"soap password still sealed", connector.Config{Name: "s", Type: connector.SOAP, Endpoint: "https://x.test",
			SOAP: &connector.SOAPOptions{Password: connector.SealedPrefix + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte(secret), 4))}},
			"soap.password", "sealed"},
		{"soap password not XML text", connector.Config{Name: "s", Type: connector.SOAP, Endpoint: "https://x.test",
			SOAP: &connector.SOAPOptions{Password: secret + "\x01"}}, "", "XML"},
		{"graphql mutation file missing", connector.Config{Name: "g", Type: connector.GraphQL, Endpoint: "https://x.test",
			GraphQL: &connector.GraphQLOptions{Mutation: "file:" + missing}}, "graphql.mutation", "missing.graphql"},
		{"graphql delete mutation file missing", connector.Config{Name: "g", Type: connector.GraphQL, Endpoint: "https://x.test",
			GraphQL: &connector.GraphQLOptions{Mutation: "mutation M($a: Int) { m(a: $a) }", DeleteMutation: "file:" + missing}},
			"graphql.deleteMutation", "no such file"},
		{"graphql without settings", connector.Config{Name: "g", Type: connector.GraphQL, Endpoint: "https://x.test"}, "", "mutation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := adapters()[tt.cfg.Type](tt.cfg, nil)
			if err == nil {
				t.Fatal("adapter = nil error")
			}
			var fe *connector.FieldError
			if tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field) {
				t.Errorf("error %v does not name the field %s", err, tt.field)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}
