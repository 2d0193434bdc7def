package webhook

// Error is why a delivery failed verification: a header is missing or
// malformed, the signature or credentials do not match, or the timestamp
// is outside the tolerance. The gateway answers it with 401 and Reason.
// Reason never contains a secret, a signature, a credential or the body;
// it may name a header.
type Error struct {
	Reason string // what is wrong, lower case: "signature does not match"
}

// Error returns e.Reason.
func (e *Error) Error() string { return e.Reason }

// The reasons that do not name a configured header.
const (
	reasonNoMatch   = "signature does not match"
	reasonTolerance = "timestamp outside tolerance"
)
