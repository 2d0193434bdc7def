package fhirserver

import (
	"fmt"
	"net/http"
	"time"

	"github.com/liaisonhq/liaison/fhir"
)

// faults are the failures a test has asked for. Guarded by Server.mu.
type faults struct {
	failN      int    // requests still to fail
	failStatus int    // with this status
	retryAfter string // and this Retry-After, "" for none
	down       bool
	delay      time.Duration
	gone       bool
}

// FailNext makes the next n requests fail with status and an
// OperationOutcome, with a Retry-After header when retryAfter is not ""
// (seconds, "7", or an HTTP date). The requests are not carried out. It
// replaces any failures still pending; n <= 0 cancels them.
func (s *Server) FailNext(n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.failN = max(n, 0)
	s.faults.failStatus = status
	s.faults.retryAfter = retryAfter
}

// SetDown makes the server, while down, accept connections and close
// them at once without an answer (the client sees a reset connection), as
// a crashed or restarting server does.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.down = down
}

// SetDelay makes every request wait d before it is answered; 0 removes the
// delay. A client that gives up while waiting gets no answer, and the
// request is recorded with status 0. Close ends pending waits.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.delay = d
}

// Gone makes every request, while gone, get 410 Gone with an
// OperationOutcome: a server that has been retired.
func (s *Server) Gone(gone bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.gone = gone
}

// injected returns the failure the next request gets, if any, and counts
// it off.
func (s *Server) injected() (answer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := &s.faults
	switch {
	case f.gone:
		return outcome(http.StatusGone, fhir.IssueNotFound, "this server has been retired"), true
	case f.failN > 0:
		f.failN--
		a := outcome(f.failStatus, issueCode(f.failStatus), fmt.Sprintf("injected failure: %d %s", f.failStatus, http.StatusText(f.failStatus)))
		if f.retryAfter != "" {
			a.header = http.Header{"Retry-After": {f.retryAfter}}
		}
		return a, true
	}
	return answer{}, false
}

// issueCode is the OperationOutcome issue code for a failure status.
func issueCode(status int) fhir.IssueType {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return fhir.IssueInvalid
	case http.StatusUnauthorized:
		return fhir.IssueLogin
	case http.StatusForbidden:
		return fhir.IssueSecurity
	case http.StatusNotFound, http.StatusGone:
		return fhir.IssueNotFound
	case http.StatusConflict, http.StatusPreconditionFailed:
		return fhir.IssueConflict
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return fhir.IssueTransient
	}
	if status >= 500 {
		return fhir.IssueException
	}
	return fhir.IssueProcessing
}
