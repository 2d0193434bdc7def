package gateway

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/liaisonhq/liaison/fhir"
)

// newAPI builds the Echo router with every route and the middleware that
// wraps them all, unknown routes included.
func newAPI(g *Gateway) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = g.writeError
	e.Use(g.logRequests)

	e.GET("/healthz", g.healthz)
	e.GET("/readyz", g.readyz)
	return e
}

var statusOK = []byte(`{"status":"ok"}`)

// healthz answers liveness: the process is up and serving HTTP.
func (g *Gateway) healthz(c echo.Context) error {
	return c.JSONBlob(http.StatusOK, statusOK)
}

// readyz answers readiness: the gateway takes traffic. It fails once a
// shutdown has begun, so a load balancer stops sending requests.
func (g *Gateway) readyz(c echo.Context) error {
	if g.draining.Load() {
		return &statusError{status: http.StatusServiceUnavailable, issue: fhir.Issue{
			Severity: fhir.SeverityError, Code: fhir.IssueTransient, Diagnostics: "shutting down",
		}}
	}
	return c.JSONBlob(http.StatusOK, statusOK)
}

// routerError names the router's own errors, an unknown path or a method
// the path does not take, with the request's method and path. Other errors
// are returned as they are.
func routerError(err error, r *http.Request) error {
	switch {
	case errors.Is(err, echo.ErrNotFound):
		return &statusError{status: http.StatusNotFound, issue: fhir.Issue{
			Severity: fhir.SeverityError, Code: fhir.IssueNotFound, Diagnostics: "no endpoint " + r.Method + " " + r.URL.Path,
		}}
	case errors.Is(err, echo.ErrMethodNotAllowed):
		return &statusError{status: http.StatusMethodNotAllowed, issue: fhir.Issue{
			Severity: fhir.SeverityError, Code: fhir.IssueNotSupported, Diagnostics: "method " + r.Method + " not allowed on " + r.URL.Path,
		}}
	}
	return err
}
