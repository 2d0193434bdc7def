package connector_test

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/liaisonhq/liaison/gateway/connector"
)

// A registration body as DESIGN.md writes it: parse, validate, fill the
// defaults, and show it the way every API response does.
func Example() {
	body := []byte(`{ "name": "StateEHR", "type": "FHIR", "endpoint": "https://stateehr.gov/fhir/Patient",
	  "auth": { "scheme": "OAuth2", "clientId": "ABC123", "clientSecret": "SECRET" },
	  "sync": { "mode": "webhook", "path": "/api/webhooks/state-ehr/patient" },
	  "mapping": { "hmsPatientId": "id", "hmsName": "name" } }`)

	c, err := connector.Parse(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := c.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	out, _ := json.MarshalIndent(c.WithDefaults().Redacted(), "", "  ")
	fmt.Println(string(out))
	// Output:
	// {
	//   "name": "StateEHR",
	//   "type": "fhir",
	//   "endpoint": "https://stateehr.gov/fhir/Patient",
	//   "auth": {
	//     "scheme": "oauth2",
	//     "clientId": "ABC123",
	//     "clientSecret": "***"
	//   },
	//   "sync": {
	//     "mode": "webhook",
	//     "path": "/api/webhooks/state-ehr/patient"
	//   },
	//   "resources": [
	//     "Patient"
	//   ],
	//   "mapping": {
	//     "rename": {
	//       "hmsName": "name",
	//       "hmsPatientId": "id"
	//     }
	//   },
	//   "delivery": {
	//     "maxAge": "72h",
	//     "initialBackoff": "1s",
	//     "maxBackoff": "10m",
	//     "timeout": "30s",
	//     "concurrency": 8
	//   }
	// }
}

func ExampleParse_errors() {
	_, err := connector.Parse([]byte(`{"nmae": "StateEHR", "resources": "Patient", "auth": {"scheme": "basic", "password": 1234}}`))
	fmt.Println(err)
	// Output:
	// nmae: unknown field (did you mean "name"?)
	// resources: want an array of strings, got a string
	// auth.password: want a string, got a number
}

func ExampleConfig_Validate() {
	c, _ := connector.Parse([]byte(`{"name": "Scheduler", "type": "rest", "endpoint": "scheduler.test",
	  "auth": {"scheme": "basic", "username": "clinic", "password": "***"},
	  "sync": {"mode": "poll"}}`))
	fmt.Println(c.Validate())
	// Output:
	// endpoint: want an absolute http or https URL
	// sync.interval: required for poll mode: at least 1s
	// sync.cursor: required for polling a REST API: the item field that orders changes
	// auth.password: is the placeholder "***" that responses show in place of a secret; send the secret itself
}

func ExampleConfig_KeepSecrets() {
	stored, _ := connector.Parse([]byte(`{"name": "Scheduler", "type": "rest", "endpoint": "https://scheduler.test",
	  "auth": {"scheme": "bearer", "token": "t0ken"}}`))
	// The client sends back what GET showed it, with a new endpoint.
	update, _ := connector.Parse([]byte(`{"name": "Scheduler", "type": "rest", "endpoint": "https://scheduler.test/v2",
	  "auth": {"scheme": "bearer", "token": "***"}}`))
	c := update.KeepSecrets(stored)
	fmt.Println(c.Endpoint, c.Auth.Token)
	// Output:
	// https://scheduler.test/v2 t0ken
}

func ExampleResolveSecret() {
	os.Setenv("STATE_EHR_SECRET", "s3cr3t")
	defer os.Unsetenv("STATE_EHR_SECRET")

	v, err := connector.ResolveSecret("env:STATE_EHR_SECRET")
	fmt.Println(v, err)
	_, err = connector.ResolveSecret("env:STATE_EHR_UNSET")
	fmt.Println(err)
	v, err = connector.ResolveSecret("a literal value")
	fmt.Println(v, err)
	// Output:
	// s3cr3t <nil>
	// secret reference env:STATE_EHR_UNSET: environment variable not set
	// a literal value <nil>
}

func ExampleParseFile() {
	_, err := connector.ParseFile("liaison.yaml", []byte(`
connectors:
  - name: StateEHR
    type: fhir
    endpoint: https://stateehr.gov/fhir/Patient
    auth: { scheme: OAuth2, clientId: ABC123 }
    sync: { mode: webhook, path: /hooks/state-ehr }
`))
	fmt.Println(err)
	// Output:
	// liaison.yaml:6:11: connectors[0].auth.clientSecret: required for scheme oauth2
	// liaison.yaml:7:34: connectors[0].sync.path: want a path starting with "/api/webhooks/"
}

// A webhook connector that verifies GitHub-style signatures, with two
// secrets while the sender rotates: WebhookVerify gives the verification
// with its defaults, and responses show the secrets as "***".
func ExampleConfig_WebhookVerify() {
	c, err := connector.Parse([]byte(`{"name": "Scheduler", "type": "rest", "endpoint": "https://scheduler.test/api",
	  "sync": {"mode": "webhook", "path": "/api/webhooks/scheduler",
	           "verify": {"scheme": "HMAC-SHA256", "secrets": ["env:SCHEDULER_HOOK_NEW", "env:SCHEDULER_HOOK_OLD"]}}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := c.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	v := c.WebhookVerify()
	fmt.Println(v.Scheme, v.Header, *v.Prefix, v.Encoding)
	out, _ := json.Marshal(c.Redacted().Sync)
	fmt.Println(string(out))

	// The seed's form: auth.secret in webhook mode is a Standard Webhooks secret.
	seed, _ := connector.Parse([]byte(`{"name": "StateEHR", "type": "FHIR", "endpoint": "https://stateehr.gov/fhir/Patient",
	  "auth": {"scheme": "OAuth2", "clientId": "ABC123", "clientSecret": "SECRET", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
	  "sync": {"mode": "webhook", "path": "/api/webhooks/state-ehr/patient"}}`))
	v = seed.WebhookVerify()
	fmt.Println(v.Scheme, v.Tolerance)
	// Output:
	// hmac-sha256 X-Hub-Signature-256 sha256= hex
	// {"mode":"webhook","path":"/api/webhooks/scheduler","verify":{"scheme":"hmac-sha256","secrets":["***","***"]}}
	// standard-webhooks 5m
}

// A SOAP connector to a state immunization registry, with a WS-Security
// header: responses show its passwords as "***".
func ExampleSOAPOptions() {
	c, err := connector.Parse([]byte(`{"name": "StateIIS", "type": "soap", "endpoint": "https://iis.state.test/ws",
	  "soap": {"facilityId": "CLINIC-1", "username": "clinic", "password": "env:IIS_PASSWORD",
	           "wsSecurity": {"username": "clinic", "password": "env:IIS_PASSWORD", "digest": true}}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Validate())
	out, _ := json.Marshal(c.Redacted().SOAP)
	fmt.Println(string(out))
	// Output:
	// <nil>
	// {"facilityId":"CLINIC-1","username":"clinic","password":"***","wsSecurity":{"username":"clinic","password":"***","digest":true}}
}

// A GraphQL connector needs its mutation, given as text or as a file.
func ExampleGraphQLOptions() {
	c, _ := connector.Parse([]byte(`{"name": "Portal", "type": "graphql", "endpoint": "https://portal.test/graphql",
	  "graphql": {"inputVariable": "input"}}`))
	fmt.Println(c.Validate())
	c.GraphQL.Mutation = "file:/etc/liaison/upsert-patient.graphql"
	fmt.Println(c.Validate())
	// Output:
	// graphql.mutation: required for type graphql: the GraphQL mutation to send, or file:PATH
	// <nil>
}

// Secrets at rest: the gateway seals a connector's literal secrets with
// the key from LIAISON_SECRET_KEY before it stores the connector, and
// opens them when it loads it. References stay as they are.
func ExampleConfig_EncryptSecrets() {
	key, err := connector.SecretKey("a long passphrase, never this one")
	if err != nil {
		fmt.Println(err)
		return
	}
	c, _ := connector.Parse([]byte(`{"name": "Scheduler", "type": "rest", "endpoint": "https://scheduler.test",
	  "auth": {"scheme": "oauth2", "clientId": "clinic", "clientSecret": "s3cr3t", "secret": "env:HOOK_SECRET"}}`))

	sealed, err := c.EncryptSecrets(key)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(connector.IsSealed(sealed.Auth.ClientSecret), sealed.Auth.Secret)
	fmt.Println(sealed.Validate(), sealed.Redacted().Auth.ClientSecret)

	opened, err := sealed.DecryptSecrets(key)
	fmt.Println(opened.Auth.ClientSecret, err)

	other, _ := connector.SecretKey("another passphrase, the wrong one")
	_, err = sealed.DecryptSecrets(other)
	fmt.Println(err)
	// Output:
	// true env:HOOK_SECRET
	// <nil> ***
	// s3cr3t <nil>
	// auth.clientSecret: cannot decrypt the sealed secret: wrong secret key, or a damaged value
}
