package connector

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The SOAP versions, the values of SOAPOptions.Version.
const (
	SOAPVersion11 = "1.1" // text/xml with a SOAPAction header
	SOAPVersion12 = "1.2" // application/soap+xml with an action parameter
)

// SOAPOptions are the settings of a soap connector, its "soap" object:
//
//	"soap": { "version": "1.1", "action": "urn:hms:UpsertPatient",
//	  "wsSecurity": { "username": "clinic", "password": "env:WSS_PASSWORD", "digest": true },
//	  "delete": { "action": "urn:hms:DeletePatient", "namespace": "urn:hms",
//	              "element": "DeletePatient", "idElement": "patientId" } }
//
// or, for a state immunization registry (IIS) taking HL7 v2 through the
// CDC WSDL's submitSingleMessage:
//
//	"soap": { "facilityId": "CLINIC-1", "username": "clinic", "password": "file:/run/secrets/iis" }
//
// Every field is optional. Password and WSSecurity.Password are secrets:
// values, "env:NAME" / "file:PATH" references that ResolveSecret reads, or
// values sealed by EncryptSecrets; they are write-only: Redacted replaces
// them with "***".
type SOAPOptions struct {
	// Version is "1.1" or "1.2". Default: 1.2 for HL7 v2 messages (the
	// CDC WSDL binds SOAP 1.2), 1.1 for the others.
	Version string `json:"version,omitempty" yaml:"version,omitempty"`
	// Action is the operation's action URI: the SOAPAction header in SOAP
	// 1.1, the action parameter of the Content-Type in SOAP 1.2. Default:
	// submitSingleMessage's for HL7 v2 messages, none for the others.
	Action string `json:"action,omitempty" yaml:"action,omitempty"`
	// FacilityID, Username and Password are the facilityID, username and
	// password parameters of submitSingleMessage (HL7 v2 messages to an
	// IIS); an empty one is left out of the request. Password is secret.
	FacilityID string `json:"facilityId,omitempty" yaml:"facilityId,omitempty"`
	Username   string `json:"username,omitempty" yaml:"username,omitempty"`
	Password   string `json:"password,omitempty" yaml:"password,omitempty"`
	// WSSecurity adds a WS-Security UsernameToken header to every
	// request. Default nil: none.
	WSSecurity *WSSecurity `json:"wsSecurity,omitempty" yaml:"wsSecurity,omitempty"`
	// Delete is the operation that deletes a record, for deletes of XML
	// messages. Default nil: such deletes are dead-lettered. (Deletes of
	// HL7 v2 VXU messages need none.)
	Delete *SOAPDelete `json:"delete,omitempty" yaml:"delete,omitempty"`
}

// WSSecurity is a WS-Security UsernameToken header.
type WSSecurity struct {
	Username string `json:"username,omitempty" yaml:"username,omitempty"` // required
	Password string `json:"password,omitempty" yaml:"password,omitempty"` // secret
	// Digest sends the PasswordDigest (SHA-1 of a fresh nonce, the
	// creation time and the password) instead of the PasswordText.
	// Default false: PasswordText, which needs TLS.
	Digest bool `json:"digest,omitempty" yaml:"digest,omitempty"`
}

// SOAPDelete is the SOAP operation that deletes a record. Its body is
//
//	<Element xmlns="Namespace"><IDElement>record id</IDElement></Element>
//
// sent with Action.
type SOAPDelete struct {
	Action    string `json:"action,omitempty" yaml:"action,omitempty"`       // required: its action URI
	Namespace string `json:"namespace,omitempty" yaml:"namespace,omitempty"` // of Element and IDElement; default none
	Element   string `json:"element,omitempty" yaml:"element,omitempty"`     // required: an XML name such as "DeletePatient"
	IDElement string `json:"idElement,omitempty" yaml:"idElement,omitempty"` // the element holding the record id; default "id"
}

// clone returns a copy of s that shares no memory with it.
func (s SOAPOptions) clone() SOAPOptions {
	if s.WSSecurity != nil {
		w := *s.WSSecurity
		s.WSSecurity = &w
	}
	if s.Delete != nil {
		d := *s.Delete
		s.Delete = &d
	}
	return s
}

// soap reads SOAPOptions; null is nil.
func (d *decoder) soap(path string, n *node) *SOAPOptions {
	if n.kind == nullKind {
		d.visit(path, n)
		return nil
	}
	s := new(SOAPOptions)
	d.object(path, n, fields{
		"version":    func(p string, v *node) { s.Version = strings.TrimSpace(d.str(p, v)) },
		"action":     func(p string, v *node) { s.Action = d.str(p, v) },
		"facilityId": func(p string, v *node) { s.FacilityID = d.str(p, v) },
		"username":   func(p string, v *node) { s.Username = d.str(p, v) },
		"password":   func(p string, v *node) { s.Password = d.str(p, v) },
		"wsSecurity": func(p string, v *node) { s.WSSecurity = d.wsSecurity(p, v) },
		"delete":     func(p string, v *node) { s.Delete = d.soapDelete(p, v) },
	})
	return s
}

// wsSecurity reads WSSecurity; null is nil.
func (d *decoder) wsSecurity(path string, n *node) *WSSecurity {
	if n.kind == nullKind {
		d.visit(path, n)
		return nil
	}
	w := new(WSSecurity)
	d.object(path, n, fields{
		"username": func(p string, v *node) { w.Username = d.str(p, v) },
		"password": func(p string, v *node) { w.Password = d.str(p, v) },
		"digest":   func(p string, v *node) { w.Digest = d.boolean(p, v) },
	})
	return w
}

// soapDelete reads SOAPDelete; null is nil.
func (d *decoder) soapDelete(path string, n *node) *SOAPDelete {
	if n.kind == nullKind {
		d.visit(path, n)
		return nil
	}
	del := new(SOAPDelete)
	d.object(path, n, fields{
		"action":    func(p string, v *node) { del.Action = d.str(p, v) },
		"namespace": func(p string, v *node) { del.Namespace = d.str(p, v) },
		"element":   func(p string, v *node) { del.Element = d.str(p, v) },
		"idElement": func(p string, v *node) { del.IDElement = d.str(p, v) },
	})
	return del
}

// soap checks the soap settings s of a connector of type t.
func (p *problems) soap(t Type, s *SOAPOptions) {
	if s == nil {
		return
	}
	if t != SOAP {
		if slices.Contains(types, t) {
			p.addf("soap", "only used by type soap (the type is %s)", t)
		}
		return
	}
	switch s.Version {
	case "", SOAPVersion11, SOAPVersion12:
	default:
		p.addf("soap.version", "unknown version %s (want %s or %s)", quote(s.Version), SOAPVersion11, SOAPVersion12)
	}
	if err := checkAction(s.Action); err != nil {
		p.add("soap.action", err)
	}
	p.xmlText("soap.facilityId", s.FacilityID)
	p.xmlText("soap.username", s.Username)
	if s.Password != "" {
		p.secretValue("soap.password", s.Password, "")
	}
	if w := s.WSSecurity; w != nil {
		if strings.TrimSpace(w.Username) == "" {
			p.add("soap.wsSecurity.username", fmt.Errorf("%w for wsSecurity", ErrRequired))
		} else {
			p.xmlText("soap.wsSecurity.username", w.Username)
		}
		if w.Password != "" {
			p.secretValue("soap.wsSecurity.password", w.Password, "")
		}
	}
	if d := s.Delete; d != nil {
		if d.Action == "" {
			p.add("soap.delete.action", fmt.Errorf("%w for delete: the delete operation's action URI", ErrRequired))
		} else if err := checkAction(d.Action); err != nil {
			p.add("soap.delete.action", err)
		}
		switch {
		case d.Element == "":
			p.add("soap.delete.element", fmt.Errorf("%w for delete: the delete operation's element", ErrRequired))
		case !xmlName(d.Element):
			p.addf("soap.delete.element", "%s", xmlNameWant)
		}
		if d.IDElement != "" && !xmlName(d.IDElement) {
			p.addf("soap.delete.idElement", "%s", xmlNameWant)
		}
		if strings.ContainsFunc(d.Namespace, isSpaceOrControl) || strings.ContainsAny(d.Namespace, `<>&"`) {
			p.addf("soap.delete.namespace", "want a URI, without white space, control characters or <>&\"")
		}
	}
}

// checkAction checks that a SOAP action can be sent quoted in a header:
// printable ASCII without spaces, quotes or backslashes. The error does
// not repeat it.
func checkAction(action string) error {
	for i := 0; i < len(action); i++ {
		if c := action[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return errors.New("want a URI of printable ASCII without spaces, quotes or backslashes")
		}
	}
	return nil
}

// xmlText checks that v, a value that is not secret, can be XML text.
func (p *problems) xmlText(path, v string) {
	switch {
	case !utf8.ValidString(v):
		p.addf(path, "not valid UTF-8")
	case strings.ContainsFunc(v, unicode.IsControl):
		p.addf(path, "contains a control character")
	}
}

const xmlNameWant = "want an XML name without a prefix: a letter or '_', then letters, digits, '_', '-' or '.'"

// xmlName reports whether s is an unprefixed XML element name of ASCII
// letters, digits, '_', '-' and '.', not starting with a digit, '-' or
// '.', as the soap adapter takes it.
func xmlName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
		case i > 0 && ('0' <= c && c <= '9' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}
