package gateway

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/liaisonhq/liaison/fhir"
	"github.com/liaisonhq/liaison/gateway/console"
)

// newAPI builds the Echo router with every route and the middleware that
// wraps them all, unknown routes included.
func newAPI(g *Gateway) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = g.writeError
	e.Pre(decodedPath)
	e.Use(g.logRequests)

	e.GET("/healthz", g.healthz)
	e.GET("/readyz", g.readyz)
	e.GET("/metrics", g.metrics.handler())

	// The web console: a public page whose script sends the admin token
	// on every /api call. Only its own paths are routed to it.
	ui := echo.WrapHandler(console.Handler())
	for _, p := range console.Paths() {
		e.Match([]string{http.MethodGet, http.MethodHead}, p, ui)
	}

	// Webhooks are authenticated by their connector's own scheme.
	e.POST("/api/webhooks/*", g.webhook)
	e.PUT("/api/webhooks/*", g.webhook)

	api := e.Group("/api", g.requireAdmin)
	api.POST("/external-connectors", g.createConnector)
	api.GET("/external-connectors", g.listConnectors)
	api.GET("/external-connectors/:id", g.getConnector)
	api.PUT("/external-connectors/:id", g.updateConnector)
	api.DELETE("/external-connectors/:id", g.deleteConnector)
	api.POST("/external-connectors/:id/sync", g.syncConnector)
	api.POST("/external-connectors/:id/pause", g.setPaused(true))
	api.POST("/external-connectors/:id/resume", g.setPaused(false))
	api.POST("/external-connectors/:id/replay", g.replayDead)

	api.POST("/records/:type", g.putRecord)
	api.PUT("/records/:type/:id", g.putRecord)
	api.DELETE("/records/:type/:id", g.deleteRecord)
	api.GET("/records/:type/:id", g.getRecord)

	api.GET("/messages", g.listMessages)
	api.GET("/messages/:id", g.getMessage)
	api.POST("/messages/:id/replay", g.replayMessage)

	api.GET("/audit", g.listAudit)

	api.POST("/translate/:mapping", g.translate)
	api.GET("/mappings", g.listMappings)
	api.POST("/mappings/:name/test", g.testMapping)
	api.POST("/mappings/:name/explain", g.explainMapping)
	api.GET("/mappings/:name/examples", g.mappingExamples)
	return e
}

// decodedPath makes Echo route on the request's decoded path. Echo
// otherwise matches the path as the client escaped it whenever that
// differs from Go's own escaping, and hands out its parameters still
// escaped: an id "MRN:1" sent as MRN%3A1 (as encodeURIComponent writes
// it) would not be found. A "/" escaped as %2F becomes a path separator,
// which no name may hold anyway.
func decodedPath(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Request().URL.RawPath = ""
		return next(c)
	}
}

// requireAdmin lets a management call through only with the admin token:
// Authorization: Bearer <token>. Otherwise 401 with WWW-Authenticate.
func (g *Gateway) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		auth := c.Request().Header.Get(echo.HeaderAuthorization)
		scheme, token, _ := strings.Cut(auth, " ")
		if !strings.EqualFold(scheme, "Bearer") || !g.authorized(strings.TrimSpace(token)) {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="liaison"`)
			return &statusError{status: http.StatusUnauthorized, issue: fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueLogin,
				Diagnostics: "this call needs the admin token: Authorization: Bearer <token>"}}
		}
		return next(c)
	}
}

// listMappings handles GET /api/mappings: the loaded mappings and their versions.
func (g *Gateway) listMappings(c echo.Context) error {
	out := []map[string]any{}
	for _, m := range g.mappings.All() {
		v := map[string]any{"name": m.Name, "version": m.Version, "input": m.Input, "output": m.Output, "file": m.File, "tests": len(m.Tests)}
		if m.Resource != "" {
			v["resource"] = m.Resource
		}
		if m.Description != "" {
			v["description"] = m.Description
		}
		out = append(out, v)
	}
	return c.JSON(http.StatusOK, out)
}

// testMapping handles POST /api/mappings/{name}/test: runs the tests
// written in the mapping file.
func (g *Gateway) testMapping(c echo.Context) error {
	m, err := g.mappings.Get(c.Param("name"))
	if err != nil {
		return &statusError{status: http.StatusNotFound, issue: fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueNotFound, Diagnostics: "no mapping named " + quoteName(c.Param("name"))}}
	}
	results := []map[string]any{}
	passed := 0
	for _, r := range m.RunTests() {
		v := map[string]any{"name": r.Test, "line": r.Line, "passed": r.Err == nil}
		if r.Err != nil {
			v["error"] = r.Err.Error()
		} else {
			passed++
		}
		results = append(results, v)
	}
	return c.JSON(http.StatusOK, map[string]any{"mapping": m.Name, "version": m.Version, "passed": passed, "failed": len(results) - passed, "tests": results})
}

var statusOK = []byte(`{"status":"ok"}`)

// healthz answers liveness: the process is up and serving HTTP.
func (g *Gateway) healthz(c echo.Context) error {
	return c.JSONBlob(http.StatusOK, statusOK)
}

// readyz answers readiness: the gateway takes traffic. It fails once a
// shutdown has begun, and while a shared store is out of reach, so a load
// balancer sends requests elsewhere.
func (g *Gateway) readyz(c echo.Context) error {
	if g.draining.Load() {
		return &statusError{status: http.StatusServiceUnavailable, issue: fhir.Issue{
			Severity: fhir.SeverityError, Code: fhir.IssueTransient, Diagnostics: "shutting down",
		}}
	}
	if err := g.store.Ready(); err != nil {
		return &statusError{status: http.StatusServiceUnavailable, issue: fhir.Issue{
			Severity: fhir.SeverityError, Code: fhir.IssueTransient, Diagnostics: "the store is out of reach"}, err: err}
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
