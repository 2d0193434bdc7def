package connector

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// soapBody is a registration body of a SOAP connector with every soap
// field set.
const soapBody = `{"name": "Registry", "type": "SOAP", "endpoint": "https://iis.test/ws",
  "soap": {"version": "1.2", "action": "urn:hms:UpsertPatient", "facilityId": "CLINIC-1",
    "username": "clinic", "password": "env:IIS_PASSWORD",
    "wsSecurity": {"username": "clinic", "password": "file:/run/secrets/wss", "digest": true},
    "delete": {"action": "urn:hms:DeletePatient", "namespace": "urn:hms", "element": "DeletePatient", "idElement": "patientId"}}}`

// soapSecrets returns SOAPOptions with every field set, the secrets to
// secretMarker.
func soapSecrets() *SOAPOptions {
	return &SOAPOptions{
		Version: SOAPVersion11, Action: "urn:hms:Upsert", FacilityID: "F1", Username: "clinic", Password: secretMarker,
		WSSecurity: &WSSecurity{Username: "clinic", Password: secretMarker, Digest: true},
		Delete:     &SOAPDelete{Action: "urn:hms:Delete", Namespace: "urn:hms", Element: "DeletePatient", IDElement: "patientId"},
	}
}

// soapConfig returns a valid SOAP Config with s.
func soapConfig(s *SOAPOptions) Config {
	return Config{Name: "Registry", Type: SOAP, Endpoint: "https://iis.test/ws", SOAP: s}
}

func TestParseSOAP(t *testing.T) {
	want := soapConfig(&SOAPOptions{
		Version: SOAPVersion12, Action: "urn:hms:UpsertPatient", FacilityID: "CLINIC-1",
		Username: "clinic", Password: "env:IIS_PASSWORD",
		WSSecurity: &WSSecurity{Username: "clinic", Password: "file:/run/secrets/wss", Digest: true},
		Delete:     &SOAPDelete{Action: "urn:hms:DeletePatient", Namespace: "urn:hms", Element: "DeletePatient", IDElement: "patientId"},
	})
	c, err := Parse([]byte(soapBody))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Parse:\n got %+v\nwant %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}

	// The same in a config file, in YAML's own style: an unquoted 1.2 is
	// a number, read as written.
	f, err := ParseFile("c.yaml", []byte(`connectors:
  - name: Registry
    type: soap
    endpoint: https://iis.test/ws
    soap:
      version: 1.2
      action: urn:hms:UpsertPatient
      facilityId: CLINIC-1
      username: clinic
      password: env:IIS_PASSWORD
      wsSecurity: {username: clinic, password: file:/run/secrets/wss, digest: true}
      delete:
        action: urn:hms:DeletePatient
        namespace: urn:hms
        element: DeletePatient
        idElement: patientId
`))
	if err != nil {
		t.Fatalf("ParseFile: %v", err)
	}
	if !reflect.DeepEqual(f.Connectors[0], want) {
		t.Errorf("ParseFile:\n got %+v\nwant %+v", f.Connectors[0], want)
	}

	// What json.Marshal writes, Parse reads back.
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if c2, err := Parse(b); err != nil || !reflect.DeepEqual(c2, c) {
		t.Errorf("Parse(Marshal(c)) = %+v, %v", c2, err)
	}

	for _, tt := range []struct{ name, body string }{
		{"null", `{"soap": null}`},
		{"nested nulls", `{"soap": {"wsSecurity": null, "delete": null, "version": null}}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if c.SOAP != nil && (c.SOAP.WSSecurity != nil || c.SOAP.Delete != nil || c.SOAP.Version != "") {
				t.Errorf("SOAP = %+v", c.SOAP)
			}
		})
	}
}

func TestParseSOAPErrors(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		fields []string
		msg    string
	}{
		{"unknown field", `{"soap": {"verison": "1.1"}}`, []string{"soap.verison"}, `did you mean "version"?`},
		{"unknown wsSecurity field", `{"soap": {"wsSecurity": {"user": "u"}}}`, []string{"soap.wsSecurity.user"}, "unknown field"},
		{"unknown delete field", `{"soap": {"delete": {"id": "x"}}}`, []string{"soap.delete.id"}, "unknown field"},
		{"duplicate", `{"soap": {"action": "a", "action": "b"}}`, []string{"soap.action"}, "duplicate field"},
		{"version a number in JSON", `{"soap": {"version": 1.2}}`, []string{"soap.version"}, "want a string, got a number"},
		{"digest a string", `{"soap": {"wsSecurity": {"digest": "true"}}}`, []string{"soap.wsSecurity.digest"}, "want true or false, got a string"},
		{"soap a string", `{"soap": "1.1"}`, []string{"soap"}, "want an object"},
		{"delete an array", `{"soap": {"delete": []}}`, []string{"soap.delete"}, "want an object"},
		{"password an array", `{"soap": {"password": ["` + secretMarker + `"]}}`, []string{"soap.password"}, "want a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.body))
			if err == nil {
				t.Fatal("Parse = nil error")
			}
			if got := fieldsOf(fieldErrors(t, err)); !slices.Equal(got, tt.fields) {
				t.Errorf("fields = %q, want %q; error:\n%v", got, tt.fields, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
			if strings.Contains(err.Error(), secretMarker) {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}

	t.Run("in a config file", func(t *testing.T) {
		const head = "connectors:\n  - name: a\n    type: soap\n    endpoint: https://x.test\n"
		_, err := ParseFile("c.yaml", []byte(head+"    soap:\n      version: 1.3\n      wsSecurity: {username: u, digest: yes}\n"))
		want := `c.yaml:6:16: connectors[0].soap.version: unknown version "1.3" (want 1.1 or 1.2)` + "\n" +
			"c.yaml:7:41: connectors[0].soap.wsSecurity.digest: want true or false, got a string"
		if err == nil || err.Error() != want {
			t.Errorf("ParseFile error:\n%v\nwant:\n%s", err, want)
		}
		_, err = ParseFile("c.yaml", []byte(head+"    soap:\n      wsSecurity:\n        digest: true\n"))
		want = "c.yaml:7:9: connectors[0].soap.wsSecurity.username: required for wsSecurity"
		if err == nil || err.Error() != want {
			t.Errorf("ParseFile error:\n%v\nwant:\n%s", err, want)
		}
	})
}

func TestValidateSOAP(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(c *Config)
		fields []string // nil for no error
		msg    string
	}{
		{"every field", func(c *Config) {}, nil, ""},
		{"empty", func(c *Config) { c.SOAP = &SOAPOptions{} }, nil, ""},
		{"none", func(c *Config) { c.SOAP = nil }, nil, ""},
		{"IIS only", func(c *Config) { c.SOAP = &SOAPOptions{FacilityID: "F", Username: "u", Password: "file:/run/iis"} }, nil, ""},
		{"wsSecurity without a password", func(c *Config) { c.SOAP.WSSecurity.Password = "" }, nil, ""},
		{"delete with the default idElement", func(c *Config) { c.SOAP.Delete.IDElement, c.SOAP.Delete.Namespace = "", "" }, nil, ""},
		{"version 1.2", func(c *Config) { c.SOAP.Version = SOAPVersion12 }, nil, ""},

		{"on another type", func(c *Config) { c.Type = REST }, []string{"soap"}, "only used by type soap (the type is rest)"},
		{"unknown version", func(c *Config) { c.SOAP.Version = "1.0" }, []string{"soap.version"}, `unknown version "1.0"`},
		{"action with a space", func(c *Config) { c.SOAP.Action = "urn:a b" }, []string{"soap.action"}, "printable ASCII"},
		{"action with a quote", func(c *Config) { c.SOAP.Action = `urn:"a"` }, []string{"soap.action"}, "quotes"},
		{"facility with a newline", func(c *Config) { c.SOAP.FacilityID = "F\n1" }, []string{"soap.facilityId"}, "control character"},
		{"username not UTF-8", func(c *Config) { c.SOAP.Username = "\xff" }, []string{"soap.username"}, "UTF-8"},
		{"password placeholder", func(c *Config) { c.SOAP.Password = RedactedSecret }, []string{"soap.password"}, "placeholder"},
		{"password bad reference", func(c *Config) { c.SOAP.Password = "env:A-B" }, []string{"soap.password"}, "variable name"},
		{"password with a NUL", func(c *Config) { c.SOAP.Password = "a\x00" }, []string{"soap.password"}, "control character"},
		{"wsSecurity without username", func(c *Config) { c.SOAP.WSSecurity.Username = " " }, []string{"soap.wsSecurity.username"}, "required"},
		{"wsSecurity placeholder", func(c *Config) { c.SOAP.WSSecurity.Password = RedactedSecret }, []string{"soap.wsSecurity.password"}, "placeholder"},
		{"delete without action and element", func(c *Config) { c.SOAP.Delete = &SOAPDelete{} },
			[]string{"soap.delete.action", "soap.delete.element"}, "required"},
		{"delete element with a prefix", func(c *Config) { c.SOAP.Delete.Element = "h:DeletePatient" }, []string{"soap.delete.element"}, "XML name"},
		{"delete idElement a number", func(c *Config) { c.SOAP.Delete.IDElement = "1d" }, []string{"soap.delete.idElement"}, "XML name"},
		{"delete namespace with markup", func(c *Config) { c.SOAP.Delete.Namespace = `urn:"x"` }, []string{"soap.delete.namespace"}, "URI"},
		{"delete action with a space", func(c *Config) { c.SOAP.Delete.Action = "a b" }, []string{"soap.delete.action"}, "printable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := soapConfig(soapSecrets())
			c.SOAP.Password, c.SOAP.WSSecurity.Password = "pw", "env:WSS"
			tt.edit(&c)
			err := c.Validate()
			if tt.fields == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want errors at %q", tt.fields)
			}
			if got := fieldsOf(fieldErrors(t, err)); !slices.Equal(got, tt.fields) {
				t.Errorf("fields = %q, want %q; error:\n%v", got, tt.fields, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
		})
	}
}

func TestRedactedSOAP(t *testing.T) {
	c := soapConfig(soapSecrets())
	orig := c.clone()
	r := c.Redacted()
	want := soapSecrets()
	want.Password, want.WSSecurity.Password = RedactedSecret, RedactedSecret
	if !reflect.DeepEqual(r.SOAP, want) {
		t.Errorf("Redacted soap:\n got %+v\nwant %+v", r.SOAP, want)
	}
	if b, _ := json.Marshal(r); strings.Contains(string(b), secretMarker) {
		t.Errorf("redacted JSON shows a secret: %s", b)
	}
	r.SOAP.WSSecurity.Username = "changed"
	r.SOAP.Delete.Element = "changed"
	if !reflect.DeepEqual(c, orig) {
		t.Errorf("Redacted changed the config, or shares memory with it")
	}
	if r := soapConfig(&SOAPOptions{Username: "u"}).Redacted(); r.SOAP.Password != "" {
		t.Errorf("empty password redacted to %q", r.SOAP.Password)
	}
}

func TestKeepSecretsSOAP(t *testing.T) {
	old := soapConfig(&SOAPOptions{Password: "iis-pw", WSSecurity: &WSSecurity{Username: "u", Password: "wss-pw"}})
	tests := []struct {
		name string
		old  Config
		s    *SOAPOptions
		want *SOAPOptions
	}{
		{"placeholders keep", old,
			&SOAPOptions{Password: "***", WSSecurity: &WSSecurity{Username: "u2", Password: "***"}},
			&SOAPOptions{Password: "iis-pw", WSSecurity: &WSSecurity{Username: "u2", Password: "wss-pw"}}},
		{"new values replace", old,
			&SOAPOptions{Password: "new", WSSecurity: &WSSecurity{Username: "u", Password: "new2"}},
			&SOAPOptions{Password: "new", WSSecurity: &WSSecurity{Username: "u", Password: "new2"}}},
		{"old without soap", valid(),
			&SOAPOptions{Password: "***", WSSecurity: &WSSecurity{Username: "u", Password: "***"}},
			&SOAPOptions{WSSecurity: &WSSecurity{Username: "u"}}},
		{"old without wsSecurity", soapConfig(&SOAPOptions{Password: "iis-pw"}),
			&SOAPOptions{WSSecurity: &WSSecurity{Username: "u", Password: "***"}},
			&SOAPOptions{WSSecurity: &WSSecurity{Username: "u"}}},
		{"no soap", old, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := soapConfig(tt.s)
			before := c.clone()
			got := c.KeepSecrets(tt.old)
			if !reflect.DeepEqual(got.SOAP, tt.want) {
				t.Errorf("SOAP:\n got %+v\nwant %+v", got.SOAP, tt.want)
			}
			if !reflect.DeepEqual(c, before) {
				t.Errorf("KeepSecrets modified its receiver")
			}
		})
	}
	t.Run("round trip through Redacted", func(t *testing.T) {
		c := soapConfig(soapSecrets())
		c.Auth = allSecrets()
		if got := c.Redacted().KeepSecrets(c); !reflect.DeepEqual(got, c) {
			t.Errorf("Redacted then KeepSecrets:\n got %+v\nwant %+v", got, c)
		}
	})
}
