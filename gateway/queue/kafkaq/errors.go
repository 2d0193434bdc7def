package kafkaq

import "errors"

// ErrClosed is returned (inside a *outbox.SendError, Status 0) by
// Publisher.Send after Close: the caller stops sending to it.
var ErrClosed = errors.New("kafkaq: publisher closed")
