package queue

import "errors"

// ErrPoison is what a Handler wraps (see Poison) when a message can never
// be processed however often it comes: a payload that does not parse, a
// record the mapping rejects. The consumer then terminates the message
// instead of redelivering it, and logs its delivery id. Any other error
// from a Handler is taken as transient.
var ErrPoison = errors.New("poison message")

// Poison returns an error that wraps both err and ErrPoison, for a Handler
// to return when err means the message can never be processed. Poison(nil)
// is ErrPoison.
func Poison(err error) error {
	if err == nil {
		return ErrPoison
	}
	return &poisonError{err: err}
}

// poisonError is err marked as poison.
type poisonError struct{ err error }

func (e *poisonError) Error() string { return "poison message: " + e.err.Error() }

func (e *poisonError) Unwrap() []error { return []error{e.err, ErrPoison} }
