package soap

import (
	"bytes"
	"crypto/sha1" // the UsernameToken Profile's PasswordDigest is defined with SHA-1
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"time"
	"unicode/utf8"
)

// The namespaces and URIs of the envelope and of WS-Security.
const (
	nsSOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
	nsSOAP12 = "http://www.w3.org/2003/05/soap-envelope"

	nsWSSE         = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	nsWSU          = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	passwordText   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
	passwordDigest = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
	base64Binary   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)

// namespace is the envelope namespace of v.
func (v Version) namespace() string {
	if v == V12 {
		return nsSOAP12
	}
	return nsSOAP11
}

// mediaType is the Content-Type of a request of version v.
func (v Version) mediaType(action string) string {
	if v == V12 {
		params := map[string]string{"charset": "utf-8"}
		if action != "" {
			params["action"] = action
		}
		return mime.FormatMediaType("application/soap+xml", params)
	}
	return "text/xml; charset=utf-8"
}

// accept is the Accept header of a request of version v.
func (v Version) accept() string {
	if v == V12 {
		return "application/soap+xml, text/xml;q=0.5"
	}
	return "text/xml, application/soap+xml;q=0.5"
}

// envelope returns the SOAP envelope of version v around payload, one XML
// element, with header (a header block, or nil) in soap:Header.
func envelope(v Version, header, payload []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(payload) + len(header) + 200)
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>`)
	b.WriteString(`<soap:Envelope xmlns:soap="` + v.namespace() + `">`)
	if header != nil {
		b.WriteString("<soap:Header>")
		b.Write(header)
		b.WriteString("</soap:Header>")
	}
	b.WriteString("<soap:Body>")
	b.Write(payload)
	b.WriteString("</soap:Body></soap:Envelope>")
	return b.Bytes()
}

// nonceSize is the length of a UsernameToken nonce, in bytes.
const nonceSize = 16

// header returns the wsse:Security header block of t for version v, made
// at now; a digest takes a fresh nonce from random.
func (t *UsernameToken) header(v Version, now time.Time, random io.Reader) ([]byte, error) {
	mustUnderstand := "1"
	if v == V12 {
		mustUnderstand = "true"
	}
	var b bytes.Buffer
	b.WriteString(`<wsse:Security xmlns:wsse="` + nsWSSE + `" xmlns:wsu="` + nsWSU + `" soap:mustUnderstand="` + mustUnderstand + `">`)
	b.WriteString("<wsse:UsernameToken><wsse:Username>")
	escape(&b, t.Username)
	b.WriteString("</wsse:Username>")
	if !t.Digest {
		b.WriteString(`<wsse:Password Type="` + passwordText + `">`)
		escape(&b, t.Password)
		b.WriteString("</wsse:Password>")
	} else {
		nonce := make([]byte, nonceSize)
		if _, err := io.ReadFull(random, nonce); err != nil {
			return nil, fmt.Errorf("ws-security nonce: %w", err)
		}
		created := now.UTC().Format("2006-01-02T15:04:05.000Z")
		b.WriteString(`<wsse:Password Type="` + passwordDigest + `">`)
		b.WriteString(passwordDigestOf(nonce, created, t.Password))
		b.WriteString("</wsse:Password>")
		b.WriteString(`<wsse:Nonce EncodingType="` + base64Binary + `">`)
		b.WriteString(base64.StdEncoding.EncodeToString(nonce))
		b.WriteString("</wsse:Nonce><wsu:Created>" + created + "</wsu:Created>")
	}
	b.WriteString("</wsse:UsernameToken></wsse:Security>")
	return b.Bytes(), nil
}

// passwordDigestOf is the UsernameToken Profile's PasswordDigest:
// Base64(SHA-1(nonce + created + password)), nonce being the raw bytes.
func passwordDigestOf(nonce []byte, created, password string) string {
	h := sha1.New()
	h.Write(nonce)
	h.Write([]byte(created))
	h.Write([]byte(password))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// escape writes s as XML character data. s holds only characters XML
// allows (see xmlText); "\r" is written as a reference, so that it
// survives the parser's line-end normalisation.
func escape(b *bytes.Buffer, s string) {
	_ = xml.EscapeText(b, []byte(s)) // a bytes.Buffer does not fail
}

// xmlText tells whether s can be XML character data: valid UTF-8 and only
// characters of XML 1.0's Char production.
func xmlText(s []byte) bool {
	for len(s) > 0 {
		r, n := utf8.DecodeRune(s)
		if r == utf8.RuneError && n == 1 {
			return false
		}
		if !(r == 0x09 || r == 0x0A || r == 0x0D ||
			r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF) {
			return false
		}
		s = s[n:]
	}
	return true
}

// errEnvelopeBody is wrapped by payloadOf for a body that is already a SOAP
// envelope.
var errEnvelopeBody = errors.New("body is a SOAP envelope: map the record to the operation's element only")

// errNotUTF8 is returned by payloadOf for a body in another encoding.
var errNotUTF8 = errors.New("body is not UTF-8")

// payloadOf checks that body is one well-formed UTF-8 XML element, and
// returns it without the prolog (XML declaration, comments, white space)
// and trailing comments, with its root's local name. A body with a DOCTYPE
// or a processing instruction is refused: SOAP allows neither. Errors say
// where, never what: the body is patient data.
func payloadOf(body []byte) (payload []byte, root string, err error) {
	if !utf8.Valid(body) {
		return nil, "", errNotUTF8
	}
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	d.CharsetReader = func(string, io.Reader) (io.Reader, error) { return nil, errNotUTF8 }
	start, end := int64(-1), int64(-1)
	depth := 0
	for {
		offset := d.InputOffset()
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.Is(err, errNotUTF8) {
				return nil, "", errNotUTF8
			}
			if errors.As(err, &se) {
				return nil, "", fmt.Errorf("body is not well-formed XML (line %d)", se.Line)
			}
			return nil, "", errors.New("body is not well-formed XML")
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				if start >= 0 {
					return nil, "", errors.New("body holds more than one XML element")
				}
				if t.Name.Local == "Envelope" && (t.Name.Space == nsSOAP11 || t.Name.Space == nsSOAP12) {
					return nil, "", errEnvelopeBody
				}
				start, root = offset, t.Name.Local
			}
			depth++
		case xml.EndElement:
			depth--
			if depth == 0 {
				end = d.InputOffset()
			}
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				return nil, "", errors.New("body has text outside its XML element")
			}
		case xml.ProcInst:
			if t.Target != "xml" || offset != 0 {
				return nil, "", errors.New("body holds a processing instruction, which SOAP does not allow")
			}
		case xml.Directive:
			return nil, "", errors.New("body holds a DOCTYPE or other directive, which SOAP does not allow")
		}
	}
	if start < 0 {
		return nil, "", errors.New("body holds no XML element")
	}
	return body[start:end], root, nil
}

// deletePayload is the body of a DeleteOperation for the record id.
func deletePayload(d *DeleteOperation, id string) []byte {
	var b bytes.Buffer
	b.WriteString("<" + d.Element)
	if d.Namespace != "" {
		b.WriteString(` xmlns="`)
		escape(&b, d.Namespace)
		b.WriteString(`"`)
	}
	b.WriteString("><" + d.IDElement + ">")
	escape(&b, id)
	b.WriteString("</" + d.IDElement + "></" + d.Element + ">")
	return b.Bytes()
}

// quoted returns s as an HTTP quoted-string; validateAction keeps quotes
// and backslashes out of s.
func quoted(s string) string { return `"` + s + `"` }
