package soap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"unicode/utf8"
)

// answer is what a SOAP response says, as far as the adapter needs it.
type answer struct {
	payload xml.Name // the first element in the Body; zero for an empty Body
	fault   *fault   // the Body's Fault, or nil
	ret     string   // submitSingleMessageResponse's return, when asked for
}

// errNotEnvelope is returned by readAnswer for an answer that is no SOAP
// envelope.
var errNotEnvelope = errors.New("the answer is not a SOAP envelope")

// errBadAnswer is returned by readAnswer for an envelope it cannot read.
var errBadAnswer = errors.New("the answer is not well-formed XML")

// readAnswer reads a SOAP 1.1 or 1.2 envelope: the first element of its
// Body and, when that is a Fault, the fault. With wantReturn it also reads
// the return of a submitSingleMessageResponse. It reads no further than
// it needs to, so that an answer cut short after its first element is
// still understood. Errors never quote the answer.
func readAnswer(body []byte, wantReturn bool) (answer, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	d.CharsetReader = charsetReader
	env, err := nextStart(d)
	if err != nil {
		return answer{}, errNotEnvelope
	}
	ns := env.Name.Space
	if env.Name.Local != "Envelope" || (ns != nsSOAP11 && ns != nsSOAP12) {
		return answer{}, errNotEnvelope
	}
	for {
		el, err := nextStart(d)
		if err != nil {
			return answer{}, errNotEnvelope // no Body
		}
		if el.Name.Space == ns && el.Name.Local == "Header" {
			if err := d.Skip(); err != nil {
				return answer{}, errBadAnswer
			}
			continue
		}
		if el.Name.Space != ns || el.Name.Local != "Body" {
			return answer{}, errNotEnvelope
		}
		break
	}
	first, err := nextStart(d)
	if errors.Is(err, errEnd) {
		return answer{}, nil // an empty Body
	}
	if err != nil {
		return answer{}, errBadAnswer
	}
	a := answer{payload: first.Name}
	switch {
	case first.Name.Space == ns && first.Name.Local == "Fault":
		var fx faultXML
		if err := d.DecodeElement(&fx, &first); err != nil {
			return a, errBadAnswer
		}
		a.fault = fx.fault()
	case wantReturn && first.Name.Local == "submitSingleMessageResponse":
		var r struct {
			Return string `xml:"return"`
		}
		if err := d.DecodeElement(&r, &first); err != nil {
			return a, errBadAnswer
		}
		a.ret = r.Return
	}
	return a, nil
}

// errEnd is returned by nextStart at the end of the enclosing element.
var errEnd = errors.New("end of element")

// nextStart returns the next child element's start, skipping text,
// comments and processing instructions; errEnd at the end of the
// enclosing element. A DOCTYPE is an error: SOAP has none.
func nextStart(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, nil
		case xml.EndElement:
			return xml.StartElement{}, errEnd
		case xml.Directive:
			return xml.StartElement{}, errBadAnswer
		}
	}
}

// charsetReader reads the encodings besides UTF-8 that SOAP stacks
// declare: US-ASCII and ISO-8859-1.
func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "us-ascii", "ascii":
		return in, nil
	case "iso-8859-1", "iso_8859-1", "latin1", "l1":
		b, err := io.ReadAll(in)
		if err != nil {
			return nil, err
		}
		out := make([]byte, 0, len(b)+len(b)/4)
		for _, c := range b {
			out = utf8.AppendRune(out, rune(c))
		}
		return bytes.NewReader(out), nil
	}
	return nil, errors.New("unsupported character encoding")
}

// faultXML is a SOAP 1.1 or 1.2 Fault as it is decoded. Fault strings and
// reasons are not read: they are free text, kept with the whole answer in
// the SendError's Response.
type faultXML struct {
	Code11   string    `xml:"faultcode"` // 1.1: a QName, such as soap:Client.Authentication
	Code12   *codeXML  `xml:"Code"`      // 1.2
	Detail11 detailXML `xml:"detail"`
	Detail12 detailXML `xml:"Detail"`
}

type codeXML struct {
	Value   string   `xml:"Value"`
	Subcode *codeXML `xml:"Subcode"`
}

type detailXML struct {
	Entries []struct {
		XMLName xml.Name
		Code    string `xml:"Code"` // the CDC faults' Code
	} `xml:",any"`
}

// fault is what the adapter reads from a Fault.
type fault struct {
	// codes are the local names of the fault code, most general first:
	// "Client", "Authentication" for soap:Client.Authentication; "Sender",
	// "FailedAuthentication" for a 1.2 Sender with a wsse subcode.
	codes []string
	// cdc is the CDC WSDL fault in the detail ("UnknownFault",
	// "SecurityFault", "MessageTooLargeFault"), "" for none; cdcCode is
	// its Code.
	cdc, cdcCode string
}

// maxSubcodes bounds the 1.2 subcodes read.
const maxSubcodes = 8

func (fx faultXML) fault() *fault {
	f := &fault{}
	if fx.Code11 != "" {
		f.codes = strings.Split(localName(fx.Code11), ".")
	}
	for c, i := fx.Code12, 0; c != nil && i < maxSubcodes; c, i = c.Subcode, i+1 {
		if v := localName(c.Value); v != "" {
			f.codes = append(f.codes, v)
		}
	}
	for _, e := range append(fx.Detail11.Entries, fx.Detail12.Entries...) {
		if !strings.HasPrefix(e.XMLName.Space, "urn:cdc:iisb:") {
			continue
		}
		f.cdc = e.XMLName.Local
		if f.cdc == "fault" { // the element of the WSDL's UnknownFault
			f.cdc = "UnknownFault"
		}
		f.cdcCode = e.Code
		break
	}
	return f
}

// localName is a QName's local part: "Client" for "soap:Client".
func localName(qname string) string {
	qname = strings.TrimSpace(qname)
	return qname[strings.LastIndexByte(qname, ':')+1:]
}

// verdict is what a fault says about retrying.
type verdict int

const (
	undecided verdict = iota // the HTTP status decides
	transient                // retry
	permanent                // dead-letter
)

// codeVerdicts are the fault codes the adapter knows: SOAP 1.1 and 1.2,
// and WS-Security's (OASIS WSS 1.1 SOAP Message Security, 12).
var codeVerdicts = map[string]verdict{
	"Client":              permanent,
	"Sender":              permanent,
	"VersionMismatch":     permanent, // the connector's version is wrong
	"MustUnderstand":      permanent, // a header the service does not know: WS-Security, likely
	"DataEncodingUnknown": permanent,
	"Server":              transient,
	"Receiver":            transient,

	"UnsupportedSecurityToken": permanent,
	"UnsupportedAlgorithm":     permanent,
	"InvalidSecurity":          permanent,
	"InvalidSecurityToken":     permanent,
	"FailedAuthentication":     permanent,
	"FailedCheck":              permanent,
	"SecurityTokenUnavailable": transient,
	"MessageExpired":           transient, // the next attempt has a fresh Created
}

// cdcVerdicts are the faults of the CDC WSDL. A CDC fault decides over
// the fault code.
var cdcVerdicts = map[string]verdict{
	"UnknownFault":              transient,
	"MessageTooLargeFault":      transient,
	"SecurityFault":             permanent,
	"UnsupportedOperationFault": permanent, // the endpoint is not an IIS
}

// verdict is the fault's verdict: its CDC fault's, else its most specific
// known code's.
func (f *fault) verdict() verdict {
	if v, ok := cdcVerdicts[f.cdc]; ok {
		return v
	}
	if f.cdc != "" {
		return transient
	}
	for i := len(f.codes) - 1; i >= 0; i-- {
		if v, ok := codeVerdicts[f.codes[i]]; ok {
			return v
		}
	}
	return undecided
}

// String describes the fault by its codes: "SOAP fault Sender/
// FailedAuthentication", "SOAP fault Server, CDC SecurityFault 10".
func (f *fault) String() string {
	codes := make([]string, 0, len(f.codes))
	for _, c := range f.codes {
		codes = append(codes, name(c, 64))
	}
	s := "SOAP fault"
	if len(codes) > 0 {
		s += " " + strings.Join(codes, "/")
	}
	if f.cdc != "" {
		s += ", CDC " + name(f.cdc, 64)
		if c := name(f.cdcCode, 16); c != "" {
			s += " " + c
		}
	}
	return s
}
