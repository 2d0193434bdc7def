package connector

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadFile(t *testing.T) {
	f, err := LoadFile(filepath.Join("testdata", "connectors.yaml"))
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	fileDelivery := Delivery{MaxAge: Duration(96 * time.Hour), Concurrency: 4}
	want := File{
		Mappings: filepath.Join("testdata", "mappings"),
		Delivery: fileDelivery,
		Connectors: []Config{
			{
				Name:     "StateEHR",
				Type:     FHIR,
				Endpoint: "https://stateehr.gov/fhir/Patient",
				Auth:     &Auth{Scheme: SchemeOAuth2, ClientID: "123456", ClientSecret: "env:STATE_EHR_SECRET"},
				Sync:     Sync{Mode: ModeWebhook, Path: "/api/webhooks/state-ehr/patient"},
				Mapping:  Mapping{Rename: map[string]string{"hmsPatientId": "id", "hmsName": "name"}},
				// Its own timeout and concurrency, the file's maxAge.
				Delivery: Delivery{MaxAge: Duration(96 * time.Hour), Timeout: Duration(10 * time.Second), Concurrency: 2},
			},
			{
				Name:      "Scheduler",
				Type:      REST,
				Endpoint:  "https://scheduler.test/api",
				Auth:      &Auth{Scheme: SchemeAPIKey, Key: "file:/run/secrets/scheduler"},
				Sync:      Sync{Mode: ModePoll, Interval: Duration(5 * time.Minute), Cursor: "updatedAt"},
				Resources: []string{"Appointment"},
				Mapping: Mapping{
					Inbound:  map[string]string{"Appointment": "scheduler-to-hms"},
					Outbound: map[string]string{"Appointment": "hms-to-scheduler"},
				},
				Delivery: fileDelivery,
			},
			{
				Name:     "Registry",
				Type:     NATS,
				Endpoint: "nats://nats.test:4222",
				Sync:     Sync{Mode: ModeQueue, Subject: "iis.immunization"},
				Mapping:  Mapping{Inbound: map[string]string{"Immunization": "iis-to-hms"}},
				Delivery: fileDelivery,
			},
		},
	}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("LoadFile:\n got %+v\nwant %+v", f, want)
	}
	for _, c := range f.Connectors {
		if err := c.WithDefaults().Validate(); err != nil {
			t.Errorf("%s: Validate after WithDefaults: %v", c.Name, err)
		}
	}
	if got := f.Connectors[0].WithDefaults().Delivery; got.InitialBackoff != DefaultInitialBackoff || got.MaxAge != Duration(96*time.Hour) {
		t.Errorf("defaults after the file's: %+v", got)
	}
}

func TestLoadFileErrors(t *testing.T) {
	_, err := LoadFile(filepath.Join("testdata", "bad.yaml"))
	want := []string{
		`testdata/bad.yaml:6:21: connectors[0].auth.scheme: unknown scheme "oauth3" (want one of none, apikey, basic, bearer, oauth2, smart, mtls)`,
		`testdata/bad.yaml:7:34: connectors[0].sync.path: want a path starting with "/api/webhooks/"`,
		`testdata/bad.yaml:8:30: connectors[0].delivery.concurrency: 1000 is out of range: want 1 to 256`,
		`testdata/bad.yaml:13:7: connectors[1].auth.password: required for scheme basic`,
		`testdata/bad.yaml:15:16: connectors[1].resources: want an array of strings, got a string`,
		`testdata/bad.yaml:16:5: connectors[1].colour: unknown field (want one of auth, delivery, endpoint, graphql, mapping, name, resources, soap, sync, type)`,
		`testdata/bad.yaml:17:11: connectors[2].name: "StateEHR" is the name of connectors[0] too`,
		`testdata/bad.yaml:19:15: connectors[2].endpoint: want an absolute http or https URL`,
	}
	if err == nil {
		t.Fatal("LoadFile = nil error")
	}
	if got := strings.Split(filepath.ToSlash(err.Error()), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("LoadFile errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.Contains(err.Error(), secretMarker) {
		t.Errorf("an error shows the secret")
	}
	for _, fe := range fieldErrors(t, err) {
		if fe.File == "" || fe.Line == 0 || fe.Col == 0 {
			t.Errorf("%v: no position", fe)
		}
	}

	if _, err := LoadFile(filepath.Join("testdata", "missing.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadFile(missing) = %v, want fs.ErrNotExist", err)
	}
}

func TestParseFileErrors(t *testing.T) {
	const conn = "connectors:\n  - name: a\n    type: rest\n    endpoint: https://x.test\n"
	tests := []struct {
		name string
		src  string
		want string // the errors, one a line
	}{
		{"syntax error", "connectors: [\n", "c.yaml:1: invalid YAML: did not find expected node content"},
		{"tab", "\tconnectors: 1", "c.yaml: invalid YAML: found character that cannot start any token"},
		{"not a mapping", "- 1\n", "c.yaml:1:1: want an object, got an array"},
		{"unknown top-level field", "connector: []\n", `c.yaml:1:1: connector: unknown field (did you mean "connectors"?)`},
		{"duplicate top-level field", "mappings: a\nmappings: b\n", "c.yaml:2:1: mappings: duplicate field"},
		{"connectors not a list", "connectors: {}\n", "c.yaml:1:13: connectors: want a list of connectors, got an object"},
		{"second document", "mappings: a\n---\nmappings: b\n", "c.yaml:2:1: a second YAML document; want one"},
		{"file delivery", "delivery:\n  timeout: -1s\n  maxAge: soon\n", "c.yaml:2:12: delivery.timeout: -1s is negative\n" +
			`c.yaml:3:11: delivery.maxAge: want a duration like "30s" or "72h", or a number of seconds`},
		{"unknown connector field", conn + "    sink: x\n", "c.yaml:5:5: connectors[0].sink: unknown field (did you mean \"sync\"?)"},
		{"duplicate connector field", conn + "    type: fhir\n", "c.yaml:5:5: connectors[0].type: duplicate field"},
		{"wrong type deep", conn + "    mapping:\n      outbound:\n        Appointment: [a]\n",
			"c.yaml:7:22: connectors[0].mapping.outbound.Appointment: want a string, got an array"},
		{"missing field, at its object", conn + "    auth:\n      scheme: bearer\n",
			"c.yaml:6:7: connectors[0].auth.token: required for scheme bearer"},
		{"missing name, at the entry", "connectors:\n  - type: rest\n    endpoint: https://x.test\n",
			"c.yaml:2:5: connectors[0].name: required"},
		{"empty entry", "connectors:\n  -\n", "c.yaml:2:4: connectors[0].name: required\n" +
			"c.yaml:2:4: connectors[0].type: required: one of fhir, rest, soap, graphql, webhook, nats, amqp, kafka"},
		{"bad value", conn + "    sync: {mode: poll, interval: 0.5, cursor: updatedAt}\n",
			"c.yaml:5:34: connectors[0].sync.interval: 500ms is less than 1s"},
		{"decode error hides what follows from it", conn + "    auth: {scheme: [bearer], token: t}\n",
			"c.yaml:5:20: connectors[0].auth.scheme: want a string, got an array"},
		{"infinite number", conn + "    delivery: {timeout: .inf}\n", "c.yaml:5:25: connectors[0].delivery.timeout: not a finite number"},
		{"binary", conn + "    auth: {scheme: bearer, token: !!binary aGVsbG8=}\n",
			"c.yaml:5:35: connectors[0].auth.token: values tagged !!binary are not supported"},
		{"recursive alias", "mappings: &a [*a]\n", "c.yaml:1:11: mappings" + strings.Repeat("[0]", 16) + ": nested more than 32 levels deep"},
		{"duplicate webhook path",
			"connectors:\n" +
				"  - {name: a, type: fhir, endpoint: 'https://a.test', sync: {mode: webhook, path: /api/webhooks/x}}\n" +
				"  - {name: b, type: fhir, endpoint: 'https://b.test', sync: {mode: webhook, path: /api/webhooks/x}}\n",
			`c.yaml:3:83: connectors[1].sync.path: "/api/webhooks/x" is the path of connectors[0] too`},
		{"secret never shown", conn + "    auth: {scheme: basic, username: u, password: " + secretMarker + ", token: " + secretMarker + "}\n",
			"c.yaml:5:72: connectors[0].auth.token: not used by scheme basic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFile("c.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("ParseFile = nil error, want\n%s", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("ParseFile errors:\n%s\nwant:\n%s", err, tt.want)
			}
			fieldErrors(t, err)
		})
	}
}

func TestParseFile(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want File
	}{
		{"empty", "", File{}},
		{"comments only", "# nothing yet\n", File{}},
		{"null connectors", "connectors:\n", File{}},
		{"absolute mappings folder", "mappings: /srv/mappings\n", File{Mappings: "/srv/mappings"}},
		{"YAML scalars read as strings", "connectors:\n" +
			"  - name: 2024\n    type: REST\n    endpoint: https://x.test\n" +
			"    auth: {scheme: basic, username: true, password: 0123}\n",
			File{Connectors: []Config{{
				Name: "2024", Type: REST, Endpoint: "https://x.test",
				Auth: &Auth{Scheme: SchemeBasic, Username: "true", Password: "0123"},
			}}}},
		{"aliases", "connectors:\n" +
			"  - name: a\n    type: rest\n    endpoint: https://a.test\n    auth: &auth {scheme: bearer, token: env:TOKEN}\n" +
			"  - name: b\n    type: rest\n    endpoint: https://b.test\n    auth: *auth\n",
			File{Connectors: []Config{
				{Name: "a", Type: REST, Endpoint: "https://a.test", Auth: &Auth{Scheme: SchemeBearer, Token: "env:TOKEN"}},
				{Name: "b", Type: REST, Endpoint: "https://b.test", Auth: &Auth{Scheme: SchemeBearer, Token: "env:TOKEN"}},
			}}},
		{"durations as numbers", "delivery: {maxAge: 3600, initialBackoff: 0.5, concurrency: 0x10}\n",
			File{Delivery: Delivery{MaxAge: Duration(time.Hour), InitialBackoff: Duration(500 * time.Millisecond), Concurrency: 16}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFile(filepath.Join("etc", "c.yaml"), []byte(tt.src))
			if err != nil {
				t.Fatalf("ParseFile: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseFile:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestLoadFileMappingsFolder(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "liaison.yaml")
	if err := os.WriteFile(path, []byte("mappings: maps\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "maps"); f.Mappings != want {
		t.Errorf("Mappings = %q, want %q", f.Mappings, want)
	}
}

// TestFileMatchesBody checks that a config file entry and a registration
// body with the same content give the same Config.
func TestFileMatchesBody(t *testing.T) {
	fromBody, err := Parse([]byte(designBody))
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseFile("c.yaml", []byte("connectors:\n  - "+designBody+"\n"))
	if err != nil {
		t.Fatalf("ParseFile: %v", err)
	}
	if !reflect.DeepEqual(f.Connectors[0], fromBody) {
		t.Errorf("from the file:\n%+v\nfrom the body:\n%+v", f.Connectors[0], fromBody)
	}
}
