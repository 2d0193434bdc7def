package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/liaisonhq/liaison/fhir"
	"github.com/liaisonhq/liaison/gateway/auth"
	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/store"
)

// Registration set-up: what a connector needs from its system before it
// works. OAuth2 and SMART connectors fetch a token; webhook connectors
// subscribe, so the system calls the gateway back at Config.PublicURL +
// sync.path (a FHIR Subscription with a rest-hook channel, one per record
// type, or POST {endpoint}/subscribe for others). The first try runs
// during the registration call, bounded by setupTimeout; when it fails the
// connector is registered all the same, with status error and lastError,
// and set-up is retried in the background until it works.

const (
	setupTimeout    = 5 * time.Second
	setupRetryFirst = time.Second
	setupRetryMax   = 5 * time.Minute
)

// setUp runs a connector's set-up once now and, when it fails, keeps
// retrying in the background. It returns the first try's error.
func (g *Gateway) setUp(ctx context.Context, lc *liveConnector) error {
	g.setups.stop(lc.id)
	if !needsSetUp(lc.cfg) {
		return nil
	}
	tctx, cancel := context.WithTimeout(ctx, setupTimeout)
	err := g.setUpOnce(tctx, lc)
	cancel()
	g.noteSetUp(lc.id, err)
	if err == nil {
		return nil
	}
	g.setups.start(lc.id, func(bctx context.Context) {
		wait := setupRetryFirst
		for {
			select {
			case <-bctx.Done():
				return
			case <-time.After(wait):
			}
			tctx, cancel := context.WithTimeout(bctx, setupTimeout)
			err := g.setUpOnce(tctx, lc)
			cancel()
			if bctx.Err() != nil {
				return
			}
			g.noteSetUp(lc.id, err)
			if err == nil {
				return
			}
			wait = min(2*wait, setupRetryMax)
		}
	})
	return err
}

func needsSetUp(cfg connector.Config) bool {
	if a := cfg.Auth; a != nil && (a.Scheme == connector.SchemeOAuth2 || a.Scheme == connector.SchemeSMART) {
		return true
	}
	return cfg.Sync.Mode == connector.ModeWebhook
}

// noteSetUp records a set-up's outcome on the connector: its error as
// lastError, or clears a set-up error.
func (g *Gateway) noteSetUp(id string, err error) {
	errUnchanged := errors.New("unchanged")
	g.store.UpdateConnector(context.Background(), id, false, func(c *store.Connector) error {
		switch {
		case err != nil:
			c.LastError = "set-up: " + err.Error()
		case strings.HasPrefix(c.LastError, "set-up: "):
			c.LastError = ""
		default:
			return errUnchanged
		}
		return nil
	})
	if err != nil {
		g.log.Warn("connector set-up failed", "connector", id, "error", err.Error())
	}
}

// setUpOnce fetches a token and subscribes, as the connector needs.
func (g *Gateway) setUpOnce(ctx context.Context, lc *liveConnector) error {
	if err := auth.Prefetch(ctx, lc.client); err != nil {
		return fmt.Errorf("token: %w", err)
	}
	if lc.cfg.Sync.Mode != connector.ModeWebhook {
		return nil
	}
	if g.cfg.PublicURL == "" {
		return fmt.Errorf("subscribe: the gateway has no public URL (--public-url) for the system to call back")
	}
	callback := strings.TrimSuffix(g.cfg.PublicURL, "/") + lc.cfg.Sync.Path
	if lc.cfg.Type == connector.FHIR {
		for _, typ := range lc.cfg.Resources {
			if err := g.subscribeFHIR(ctx, lc, typ, callback); err != nil {
				return err
			}
		}
		return nil
	}
	body, _ := json.Marshal(map[string]any{"url": callback, "events": lc.cfg.Resources})
	return post(ctx, lc.client, strings.TrimSuffix(lc.cfg.Endpoint, "/")+"/subscribe", "application/json", body, "subscribe")
}

// subscribeFHIR creates (or updates, by its stored id) the rest-hook
// Subscription of one record type.
func (g *Gateway) subscribeFHIR(ctx context.Context, lc *liveConnector, typ, callback string) error {
	key := "subscription/" + lc.id + "/" + typ
	kept, err := g.store.Meta(ctx, key)
	if err != nil {
		return err
	}
	known := string(kept)
	sub := fhir.Resource{
		"resourceType": "Subscription",
		"status":       "requested",
		"reason":       "Liaison: changes of " + typ + " resources for " + lc.cfg.Name,
		"criteria":     typ,
		"channel": map[string]any{
			"type":     "rest-hook",
			"endpoint": callback,
			"payload":  mimeFHIRJSON,
		},
	}
	method, target := http.MethodPost, fhirBase(lc.cfg.Endpoint)+"/Subscription"
	if known != "" {
		sub["id"] = known
		method, target = http.MethodPut, target+"/"+known
	}
	body, err := fhir.EncodeJSON(sub)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mimeFHIRJSON)
	req.Header.Set("Accept", mimeFHIRJSON)
	res, err := lc.client.Do(req)
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", typ, scrubURL(err))
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("subscribe %s: %s", typ, res.Status)
	}
	created, err := fhir.ParseJSON(data)
	if err != nil || created["id"] == nil {
		if known != "" {
			return nil
		}
		return fmt.Errorf("subscribe %s: the server answered no Subscription id", typ)
	}
	id, _ := created["id"].(string)
	return g.store.PutMeta(ctx, key, []byte(id))
}

// post sends a JSON body and wants a 2xx.
func post(ctx context.Context, client *http.Client, url, ctype string, body []byte, what string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	req.Header.Set("Content-Type", ctype)
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", what, scrubURL(err))
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s", what, res.Status)
	}
	return nil
}
