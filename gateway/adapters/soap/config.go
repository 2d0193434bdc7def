package soap

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/liaisonhq/liaison/gateway/connector"
)

// defaultTimeout bounds one attempt when the connector's policy does not.
const defaultTimeout = 30 * time.Second

// Version is a SOAP version.
type Version string

// The SOAP versions.
const (
	V11 Version = "1.1" // text/xml, SOAPAction header, http://schemas.xmlsoap.org/soap/envelope/
	V12 Version = "1.2" // application/soap+xml;action=…, http://www.w3.org/2003/05/soap-envelope
)

// Options are the settings of a SOAP connector that connector.Config has
// no field for. The zero Options is a SOAP 1.1 client without WS-Security
// that sends XML bodies and sends HL7 v2 bodies to the CDC IIS
// submitSingleMessage operation over SOAP 1.2.
//
// Secrets (passwords) are values, already resolved by the caller (see
// connector.ResolveSecret); they never appear in errors.
type Options struct {
	// Version is the SOAP version. Default: V12 for HL7 v2 messages (the
	// CDC WSDL binds SOAP 1.2), V11 for the others.
	Version Version
	// Action is the operation's action URI: the SOAPAction header in SOAP
	// 1.1, the action parameter of the Content-Type in SOAP 1.2. Default:
	// IISAction for HL7 v2 messages, none for the others (an empty
	// SOAPAction "" in SOAP 1.1).
	Action string
	// Security adds a WS-Security UsernameToken header to every request.
	// Default nil: no WS-Security header.
	Security *UsernameToken
	// IIS is what submitSingleMessage carries besides the HL7 message.
	IIS IIS
	// Delete is the operation that deletes a record, for deletes of XML
	// messages. Default nil: such deletes are Permanent errors. (Deletes
	// of HL7 v2 VXU messages need none: they are sent as VXUs whose RXA-21
	// is "D".)
	Delete *DeleteOperation
}

// UsernameToken is a WS-Security UsernameToken (OASIS WSS 1.1 UsernameToken
// Profile).
type UsernameToken struct {
	Username string // required
	Password string // secret
	// Digest sends the PasswordDigest, Base64(SHA-1(nonce + created +
	// password)) with a fresh nonce and creation time per request, instead
	// of the PasswordText. Default false: PasswordText, which needs TLS.
	Digest bool
}

// IIS holds the submitSingleMessage parameters of the CDC WSDL besides
// hl7Message. Empty ones are left out of the request (the WSDL makes them
// optional).
type IIS struct {
	Username   string // the IIS user
	Password   string // secret
	FacilityID string // the submitting facility's id at the IIS
}

// DeleteOperation describes the SOAP operation that deletes a record: its
// body is
//
//	<Element xmlns="Namespace"><IDElement>record id</IDElement></Element>
//
// sent with Action.
type DeleteOperation struct {
	Action    string // required
	Namespace string // of Element and IDElement; default none
	Element   string // required: the operation's element, such as "DeletePatient"
	IDElement string // default "id"
}

// IISAction is the action of submitSingleMessage in the CDC WSDL.
const IISAction = "urn:cdc:iisb:2011:submitSingleMessage"

// config is what the adapter takes from a connector.Config and Options,
// with defaults filled in.
type config struct {
	endpoint string
	timeout  time.Duration // bounds one attempt: Delivery.Timeout, default 30s
	opts     Options
}

// newConfig reads cfg and opts, fills defaults and validates the result,
// without I/O.
func newConfig(cfg connector.Config, opts Options) (config, error) {
	if cfg.Type != "" && !strings.EqualFold(string(cfg.Type), string(connector.SOAP)) {
		return config{}, fmt.Errorf("connector type %q is not %q", cfg.Type, connector.SOAP)
	}
	c := config{
		endpoint: strings.TrimSpace(cfg.Endpoint),
		timeout:  time.Duration(cfg.Delivery.Timeout),
		opts:     opts,
	}
	if c.timeout <= 0 {
		c.timeout = defaultTimeout
	}
	if d := opts.Delete; d != nil {
		cp := *d
		if cp.IDElement == "" {
			cp.IDElement = "id"
		}
		c.opts.Delete = &cp
	}
	if s := opts.Security; s != nil {
		cp := *s
		c.opts.Security = &cp
	}
	return c, c.validate()
}

// validate checks the endpoint and the options.
func (c config) validate() error {
	if err := validateEndpoint(c.endpoint); err != nil {
		return err
	}
	o := c.opts
	switch o.Version {
	case "", V11, V12:
	default:
		return fmt.Errorf("version %q: want %q or %q", o.Version, V11, V12)
	}
	if err := validateAction("action", o.Action); err != nil {
		return err
	}
	if s := o.Security; s != nil {
		if strings.TrimSpace(s.Username) == "" {
			return errors.New("security: username missing")
		}
		if !xmlText([]byte(s.Username)) || !xmlText([]byte(s.Password)) {
			return errors.New("security: username or password holds characters XML cannot carry")
		}
	}
	if !xmlText([]byte(o.IIS.Username)) || !xmlText([]byte(o.IIS.Password)) || !xmlText([]byte(o.IIS.FacilityID)) {
		return errors.New("iis: username, password or facility id holds characters XML cannot carry")
	}
	if d := o.Delete; d != nil {
		if d.Action == "" {
			return errors.New("delete: action missing")
		}
		if err := validateAction("delete: action", d.Action); err != nil {
			return err
		}
		if !isNCName(d.Element) {
			return errors.New("delete: element: want an XML name without a prefix")
		}
		if !isNCName(d.IDElement) {
			return errors.New("delete: idElement: want an XML name without a prefix")
		}
		if strings.ContainsAny(d.Namespace, "<>&\"") || !validHeaderValue(d.Namespace) {
			return errors.New("delete: namespace: want a URI")
		}
	}
	return nil
}

// validateEndpoint checks that the endpoint is an absolute http(s) URL
// with a host, without credentials or a fragment.
func validateEndpoint(endpoint string) error {
	if endpoint == "" {
		return errors.New("endpoint: missing: expected the SOAP service's URL")
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return errors.New("endpoint: not a URL") // url's error quotes it
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("endpoint: expected an http or https URL")
	case u.Host == "":
		return errors.New("endpoint: no host")
	case u.User != nil:
		return errors.New("endpoint: credentials in the URL: give them as auth")
	case u.Fragment != "" || strings.Contains(endpoint, "#"):
		return errors.New("endpoint: has a fragment")
	}
	return nil
}

// validateAction checks that an action can be sent quoted in a header:
// printable ASCII without quotes or backslashes.
func validateAction(name, action string) error {
	for i := 0; i < len(action); i++ {
		if c := action[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return fmt.Errorf("%s: want a URI of printable ASCII without spaces, quotes or backslashes", name)
		}
	}
	return nil
}

// isNCName tells whether s is usable as an unprefixed XML element name:
// ASCII letters, digits, '_', '-' and '.', not starting with a digit,
// '-' or '.'. (XML allows more; service definitions rarely use it.)
func isNCName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
		case i > 0 && ('0' <= c && c <= '9' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// validHeaderValue tells whether s can be sent as a header value: no
// control characters but tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
