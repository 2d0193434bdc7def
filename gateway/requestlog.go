package gateway

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/labstack/echo/v4"
)

// requestIDKey is where logRequests keeps the request id in the Echo context.
const requestIDKey = "liaison.requestID"

// maxRequestIDLen bounds a caller's X-Request-Id; a longer one is replaced.
const maxRequestIDLen = 128

// requestID returns the id logRequests gave the request.
func requestID(c echo.Context) string {
	id, _ := c.Get(requestIDKey).(string)
	return id
}

// logRequests is the outermost middleware. It gives the request an id
// (X-Request-Id, echoed in the response), turns a panic into an internal
// error, answers an error through the error handler, and logs one line:
// request id, method, path, status, bytes written and duration. Bodies and
// query strings are never logged; for a 5xx the cause is.
func (g *Gateway) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		req := c.Request()
		id := req.Header.Get(echo.HeaderXRequestID)
		if !validRequestID(id) {
			id = rand.Text()
		}
		c.Set(requestIDKey, id)
		c.Response().Header().Set(echo.HeaderXRequestID, id)

		err := callRecovered(next, c)
		if err != nil {
			c.Error(err)
		}

		g.metrics.request(c)
		res := c.Response()
		level := slog.LevelInfo
		attrs := []slog.Attr{
			slog.String("request_id", id),
			slog.String("method", req.Method),
			slog.String("path", req.URL.Path),
			slog.Int("status", res.Status),
			slog.Int64("bytes", res.Size),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		}
		if res.Status >= http.StatusInternalServerError {
			level = slog.LevelError
			if err != nil {
				attrs = append(attrs, slog.String("error", err.Error()))
			}
		}
		g.log.LogAttrs(req.Context(), level, "request", attrs...)
		return nil
	}
}

// callRecovered calls next, turning a panic into an error that carries the
// stack. http.ErrAbortHandler is re-raised: it asks net/http to drop the
// connection.
func callRecovered(next echo.HandlerFunc, c echo.Context) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			err = fmt.Errorf("panic: %v\n%s", v, debug.Stack())
		}
	}()
	return next(c)
}

// validRequestID accepts a caller's request id of visible ASCII, not too long.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '!' || id[i] > '~' {
			return false
		}
	}
	return true
}
