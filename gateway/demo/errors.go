package demo

import "errors"

// ErrVerify is returned, wrapped with what differs, by Play when the
// scenario ran but the end state is not the expected one: a message not
// delivered in time or dead, or the EHR or the scheduler holding something
// else. The Report returned with it says what flowed where; show it, and
// exit with a failure.
var ErrVerify = errors.New("the end state is not what the scenario expects")
