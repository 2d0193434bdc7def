package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

const (
	// refreshMargin is how long before its expiry a token is replaced, so
	// that it does not expire on the way to the API.
	refreshMargin = 30 * time.Second
	// fetchTimeout bounds one token request (discovery included), on top
	// of the caller's context.
	fetchTimeout = 30 * time.Second
	// maxDrain bounds what is read from a refused response before the
	// request is sent again, so that its connection can be reused.
	maxDrain = 64 << 10
)

// tokens holds one access token and gets a new one when there is none or
// it is near its expiry: one token request at a time, whose result every
// caller waiting for it shares.
type tokens struct {
	// fetch makes one token request. Calls are never concurrent: a call
	// starts only while no other is in flight (see token).
	fetch func(ctx context.Context) (*oauth2.Token, error)
	now   func() time.Time // time.Now; tests move it

	mu        sync.Mutex
	tok       *oauth2.Token // nil when there is none or it was refused
	refreshAt time.Time     // when tok is to be replaced; zero for never
	inflight  *fetchCall    // the token request in flight, nil when none
}

// fetchCall is one token request, which its callers wait for.
type fetchCall struct {
	done chan struct{} // closed when tok and err are set
	tok  *oauth2.Token
	err  error
	// abandoned is set when the request failed because the context of the
	// caller that made it ended; the others make a new one.
	abandoned bool
}

func newTokens(fetch func(context.Context) (*oauth2.Token, error)) *tokens {
	return &tokens{fetch: fetch, now: time.Now}
}

// token returns the current token, or gets a new one: it joins the token
// request in flight, or makes one with ctx. It returns when the token is
// there or ctx ends.
func (ts *tokens) token(ctx context.Context) (*oauth2.Token, error) {
	for {
		ts.mu.Lock()
		if ts.tok != nil && (ts.refreshAt.IsZero() || ts.now().Before(ts.refreshAt)) {
			tok := ts.tok
			ts.mu.Unlock()
			return tok, nil
		}
		if c := ts.inflight; c != nil {
			ts.mu.Unlock()
			select {
			case <-c.done:
				if c.abandoned && ctx.Err() == nil {
					continue
				}
				return c.tok, c.err
			case <-ctx.Done():
				return nil, fmt.Errorf("wait for an access token: %w", ctx.Err())
			}
		}
		c := &fetchCall{done: make(chan struct{})}
		ts.inflight = c
		ts.mu.Unlock()
		ts.run(ctx, c)
		return c.tok, c.err
	}
}

// run makes the token request c and publishes its result, even if fetch
// panics.
func (ts *tokens) run(ctx context.Context, c *fetchCall) {
	sent := ts.now()
	defer func() {
		ts.mu.Lock()
		if c.err == nil && c.tok != nil {
			ts.tok, ts.refreshAt = c.tok, ts.refreshTime(c.tok, sent)
		}
		ts.inflight = nil
		ts.mu.Unlock()
		close(c.done)
	}()
	c.err = errors.New("token request did not complete") // stays if fetch panics
	fctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	c.tok, c.err = ts.fetch(fctx)
	c.abandoned = c.err != nil && ctx.Err() != nil
}

// refreshTime returns when tok, asked for at sent, is to be replaced:
// refreshMargin before it expires, or half its lifetime before when it
// lives less than twice the margin; zero when it does not expire. The
// lifetime is expires_in counted from sent, which errs on the safe side.
func (ts *tokens) refreshTime(tok *oauth2.Token, sent time.Time) time.Time {
	life, ok := expiresIn(tok)
	switch {
	case ok:
	case !tok.Expiry.IsZero():
		life = tok.Expiry.Sub(sent)
	default:
		return time.Time{}
	}
	life = max(life, 0)
	return sent.Add(life - min(refreshMargin, life/2))
}

// expiresIn returns the expires_in of the token response tok came from:
// a JSON number or string, or a form value.
func expiresIn(tok *oauth2.Token) (time.Duration, bool) {
	var secs float64
	switch v := tok.Extra("expires_in").(type) {
	case float64:
		secs = v
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return 0, false
		}
		secs = f
	case string:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, false
		}
		secs = f
	default:
		return 0, false
	}
	if secs == 0 || secs > math.MaxInt64/float64(time.Second) {
		return 0, false // 0 is how the oauth2 package reads "no expiry" too
	}
	return time.Duration(secs * float64(time.Second)), true
}

// drop forgets tok, which the API refused, unless a newer token has
// replaced it already.
func (ts *tokens) drop(tok *oauth2.Token) {
	ts.mu.Lock()
	if ts.tok == tok {
		ts.tok = nil
	}
	ts.mu.Unlock()
}

// roundTrip sends req with the access token over base. After a 401 it
// drops that token, gets a new one and sends req once more, when req's
// body can be replayed; the second answer is returned as it is.
func (ts *tokens) roundTrip(base http.RoundTripper, req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	tok, err := ts.token(ctx)
	if err != nil {
		closeBody(req.Body)
		return nil, err
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	resp, err := base.RoundTrip(withToken(req, req.Body, tok))
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !replayable {
		return resp, err
	}
	body := req.Body
	if req.GetBody != nil {
		if body, err = req.GetBody(); err != nil {
			return resp, nil // cannot replay: the 401 is the answer
		}
	}
	ts.drop(tok)
	tok, err = ts.token(ctx)
	discard(resp.Body)
	if err != nil {
		closeBody(body)
		return nil, err
	}
	return base.RoundTrip(withToken(req, body, tok))
}

// withToken returns a clone of req with body and tok's Authorization
// header.
func withToken(req *http.Request, body io.ReadCloser, tok *oauth2.Token) *http.Request {
	r := req.Clone(req.Context())
	r.Body = body
	tok.SetAuthHeader(r)
	return r
}

// discard reads what is left of body, up to maxDrain, and closes it.
func discard(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, maxDrain)
	_ = body.Close()
}

// closeBody closes a request body that will not be sent, as a
// RoundTripper must.
func closeBody(body io.ReadCloser) {
	if body != nil {
		_ = body.Close()
	}
}
