package gateway

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/liaisonhq/liaison/fhir"
	"github.com/liaisonhq/liaison/gateway/store"
)

// mimeFHIRJSON is the media type of every error answer.
const mimeFHIRJSON = "application/fhir+json"

// statusError is a failure a handler can name: answered with its status and
// issue. err, when set, is the cause kept for the log.
type statusError struct {
	status int
	issue  fhir.Issue
	err    error
}

func (e *statusError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("%d %s: %v", e.status, e.issue.Diagnostics, e.err)
	}
	return fmt.Sprintf("%d %s", e.status, e.issue.Diagnostics)
}

func (e *statusError) Unwrap() error { return e.err }

// issuesError is a failure with several issues, such as every invalid
// field of a connector registration.
type issuesError struct {
	status int
	issues fhir.Issues
}

func (e *issuesError) Error() string { return fmt.Sprintf("%d %s", e.status, e.issues.Error()) }

// answer maps an error to the HTTP status and the issues of the
// OperationOutcome that answers it. This is the one place where errors
// become statuses:
//
//	*statusError              its status and issue
//	*fhir.SyntaxError         400, the issue at its line and column
//	fhir.Issues               422, every issue
//	*http.MaxBytesError       413 too-costly
//	*echo.HTTPError           its code
//	store.ErrUnavailable      503 transient, with Retry-After (writeError)
//	anything else             500 exception, without the error's text
func answer(err error) (int, fhir.Issues) {
	var (
		many    *issuesError
		named   *statusError
		syntax  *fhir.SyntaxError
		issues  fhir.Issues
		tooBig  *http.MaxBytesError
		echoErr *echo.HTTPError
	)
	switch {
	case errors.As(err, &many):
		return many.status, many.issues
	case errors.As(err, &named):
		return named.status, fhir.Issues{named.issue}
	case errors.As(err, &syntax):
		return http.StatusBadRequest, fhir.Issues{syntax.Issue()}
	case errors.As(err, &issues):
		return http.StatusUnprocessableEntity, issues
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, fhir.Issues{{
			Severity: fhir.SeverityError, Code: fhir.IssueTooCostly,
			Diagnostics: fmt.Sprintf("request body larger than %d bytes", tooBig.Limit),
		}}
	case errors.Is(err, store.ErrUnavailable):
		return http.StatusServiceUnavailable, fhir.Issues{{Severity: fhir.SeverityError, Code: fhir.IssueTransient,
			Diagnostics: "the store is unavailable for the moment (a server failing over); nothing was stored by this request unless a retry finds it unchanged: send it again"}}
	case errors.As(err, &echoErr):
		msg, ok := echoErr.Message.(string)
		if !ok || msg == "" {
			msg = http.StatusText(echoErr.Code)
		}
		return echoErr.Code, fhir.Issues{{Severity: fhir.SeverityError, Code: issueType(echoErr.Code), Diagnostics: msg}}
	}
	return http.StatusInternalServerError, fhir.Issues{{
		Severity: fhir.SeverityError, Code: fhir.IssueException, Diagnostics: "internal error",
	}}
}

// issueType is the OperationOutcome issue code that best names an HTTP status.
func issueType(status int) fhir.IssueType {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return fhir.IssueInvalid
	case http.StatusUnauthorized:
		return fhir.IssueLogin
	case http.StatusForbidden:
		return fhir.IssueSecurity
	case http.StatusNotFound, http.StatusGone:
		return fhir.IssueNotFound
	case http.StatusMethodNotAllowed, http.StatusNotAcceptable, http.StatusUnsupportedMediaType, http.StatusNotImplemented:
		return fhir.IssueNotSupported
	case http.StatusConflict, http.StatusPreconditionFailed:
		return fhir.IssueConflict
	case http.StatusRequestEntityTooLarge:
		return fhir.IssueTooCostly
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return fhir.IssueTransient
	}
	if status >= 500 {
		return fhir.IssueException
	}
	return fhir.IssueProcessing
}

// writeError is the Echo HTTPErrorHandler: it answers err with an
// OperationOutcome, unless a response has already been started. An internal
// error's diagnostics name the request id, so the caller can quote it and
// the operator find the cause in the log (logRequests logs it).
func (g *Gateway) writeError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, issues := answer(routerError(err, c.Request()))
	if status == http.StatusServiceUnavailable && errors.Is(err, store.ErrUnavailable) {
		c.Response().Header().Set("Retry-After", "1")
	}
	if status == http.StatusInternalServerError {
		issues[0].Diagnostics += " (request " + requestID(c) + ")"
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	body, encErr := fhir.EncodeJSON(fhir.Outcome(issues...))
	if encErr != nil { // only for values JSON cannot hold, never for issues
		status, body = http.StatusInternalServerError, []byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"exception"}]}`)
	}
	_ = c.Blob(status, mimeFHIRJSON, body)
}
