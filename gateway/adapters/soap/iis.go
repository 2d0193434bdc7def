package soap

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/transform/hl7v2"
)

// nsIIS is the namespace of the CDC WSDL's elements.
const nsIIS = "urn:cdc:iisb:2011"

// hl7Types are the media types of an HL7 v2 message in ER7.
var hl7Types = map[string]bool{
	"x-application/hl7-v2+er7": true, // what the mapping engine writes
	"application/hl7-v2":       true,
	"application/hl7-v2+er7":   true,
}

// isHL7 tells whether contentType is that of an HL7 v2 message.
func isHL7(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && hl7Types[strings.ToLower(mt)]
}

// submitSingleMessage returns the submitSingleMessage element carrying
// er7, which holds only characters XML allows.
func submitSingleMessage(iis IIS, er7 []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(er7) + len(er7)/8 + 256)
	b.WriteString(`<submitSingleMessage xmlns="` + nsIIS + `">`)
	for _, p := range []struct{ name, value string }{
		{"username", iis.Username}, {"password", iis.Password}, {"facilityID", iis.FacilityID},
	} {
		if p.value != "" {
			b.WriteString("<" + p.name + ">")
			escape(&b, p.value)
			b.WriteString("</" + p.name + ">")
		}
	}
	b.WriteString("<hl7Message>")
	escape(&b, string(er7))
	b.WriteString("</hl7Message></submitSingleMessage>")
	return b.Bytes()
}

// hl7Request checks an HL7 v2 body and returns the ER7 to send and its
// MSH-10. For a delete, the body is the VXU that recorded the
// immunization, and the ER7 is that VXU with every RXA-21 (action code)
// set to "D", which is how the CDC guide deletes an immunization. Errors
// say what is wrong, never what the message holds.
func hl7Request(body []byte, del bool) (er7 []byte, controlID string, err error) {
	if !xmlText(body) {
		return nil, "", errors.New("HL7 v2 body holds bytes XML cannot carry (not UTF-8, or control characters)")
	}
	m, err := hl7v2.Parse(body)
	if err != nil {
		return nil, "", fmt.Errorf("body: %w", err)
	}
	if m.Get("MSH.9.1") == "" {
		return nil, "", errors.New("body: HL7 v2 message without MSH-9, the message type")
	}
	if !del {
		return body, m.Get("MSH.10"), nil
	}
	if m.Get("MSH.9.1") != "VXU" {
		return nil, "", errors.New("delete: only a VXU can be deleted (with RXA-21 D); the mapped message is another type")
	}
	n := 0
	for i := range m.Segments {
		if m.Segments[i].Name == "RXA" {
			n++
			if err := m.Set(fmt.Sprintf("RXA[%d].21", n), "D"); err != nil {
				return nil, "", fmt.Errorf("delete: %w", err)
			}
		}
	}
	if n == 0 {
		return nil, "", errors.New("delete: the VXU has no RXA segment to delete")
	}
	return hl7v2.Encode(m), m.Get("MSH.10"), nil
}

// judgeAck returns the verdict on the acknowledgment ack, the return of
// submitSingleMessageResponse answered with status, to the message whose
// MSH-10 is controlID:
//
//   - AA, CA: nil;
//   - AE, CE: retried;
//   - AR, CR: Permanent;
//   - anything that is no acknowledgment of that message: retried.
//
// Every SendError keeps the acknowledgment in Response; Err names the code
// and the ERR segments' severities, codes and locations, never their
// text.
func judgeAck(op, ack string, status int, controlID string) error {
	resp := bound([]byte(ack))
	retry := func(format string, args ...any) error {
		return &outbox.SendError{Response: resp, Err: fmt.Errorf(op+": "+format, args...)}
	}
	if strings.TrimSpace(ack) == "" {
		return retry("the answer holds no acknowledgment")
	}
	m, err := hl7v2.Parse([]byte(ack))
	if err != nil {
		return retry("the acknowledgment: %w", err)
	}
	a, err := hl7v2.ReadAck(m)
	if err != nil {
		return retry("the acknowledgment: %w", err)
	}
	if controlID != "" && a.ControlID != "" && a.ControlID != controlID {
		return retry("the acknowledgment is for another message (MSA-2 is not the MSH-10 sent)")
	}
	what := fmt.Sprintf("acknowledgment %s%s", a.Code, ackErrors(a.Errors))
	switch a.Code {
	case hl7v2.AppAccept, hl7v2.CommitAccept:
		return nil
	case hl7v2.AppError, hl7v2.CommitError:
		return retry("%s", what)
	case hl7v2.AppReject, hl7v2.CommitReject:
		if status < 200 || status >= 300 {
			status = http.StatusOK
		}
		return &outbox.SendError{Status: status, Permanent: true, Response: resp, Err: fmt.Errorf("%s: %s", op, what)}
	default:
		return retry("MSA-1 is not an acknowledgment code")
	}
}

// maxAckErrors bounds the ERR segments an error names.
const maxAckErrors = 3

// ackErrors describes ERR segments as ": E 102 at RXA.10, W 101 at
// PID.11.5", without their text, which may quote the message.
func ackErrors(errs []hl7v2.AckError) string {
	if len(errs) == 0 {
		return ""
	}
	parts := make([]string, 0, maxAckErrors+1)
	for i, e := range errs {
		if i == maxAckErrors {
			parts = append(parts, fmt.Sprintf("%d more", len(errs)-i))
			break
		}
		s := name(e.Severity, 1)
		if s == "" {
			s = "E"
		}
		if c := name(e.Code, 16); c != "" {
			s += " " + c
		}
		if e.Location.Segment != "" {
			s += " at " + e.Location.String()
		}
		parts = append(parts, s)
	}
	return ": " + strings.Join(parts, ", ")
}

// bound returns at most outbox.MaxResponse bytes of b, nil for none.
func bound(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b[:min(len(b), outbox.MaxResponse)])
}

// name keeps a code from an answer (a fault code, an HL7 table code) when
// it is a short token of letters, digits and _-.+/ (a media type), cut to n
// bytes; otherwise it is "?". It returns "" for "".
func name(s string, n int) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("_-.+/", c) >= 0) {
			return "?"
		}
	}
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}
