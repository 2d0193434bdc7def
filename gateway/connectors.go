package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/liaisonhq/liaison/fhir"
	"github.com/liaisonhq/liaison/gateway/auth"
	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/gateway/store"
	"github.com/liaisonhq/liaison/gateway/webhook"
	"github.com/liaisonhq/liaison/transform"
)

// liveConnector is a registered connector as the gateway runs it: its
// configuration with defaults, the mappings it uses per record type, and
// the sender that delivers to it.
type liveConnector struct {
	id       string
	cfg      connector.Config
	outbound map[string]*transform.Mapping // nil value: the record is sent as it is
	inbound  map[string]*transform.Mapping
	sender   outbox.Sender
	verify   webhookVerifier // inbound webhook verification; nil when none
	client   *http.Client    // for what the gateway asks of the system (polls)
	stored   []byte          // the configuration as stored, secrets sealed: a change by another gateway shows here
}

// close releases what the connector's sender holds (a queue connection).
func (lc *liveConnector) close() {
	if c, ok := lc.sender.(interface{ Close() error }); ok {
		c.Close()
	}
	if lc.client != nil {
		lc.client.CloseIdleConnections()
	}
}

// sends tells whether the connector takes changes of a record type.
func (lc *liveConnector) sends(typ string) bool {
	_, ok := lc.outbound[typ]
	return ok
}

// prepare checks a connector's configuration against what the gateway
// has: the mappings it names and an adapter for its type. Every problem is
// a *connector.FieldError naming the field.
func (g *Gateway) prepare(id string, cfg connector.Config) (*liveConnector, error) {
	cfg.Delivery = cfg.Delivery.Inherit(g.cfg.Delivery)
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lc := &liveConnector{id: id, cfg: cfg, outbound: map[string]*transform.Mapping{}, inbound: map[string]*transform.Mapping{}}
	var errs []error
	for _, typ := range cfg.Resources {
		out, err := g.outboundMapping(cfg, typ)
		if err != nil {
			errs = append(errs, err)
		}
		lc.outbound[typ] = out
		in, err := g.inboundMapping(cfg, typ)
		if err != nil {
			errs = append(errs, err)
		} else if in != nil {
			lc.inbound[typ] = in
		}
	}
	clients := g.cfg.Clients
	if clients == nil {
		clients = func(cfg connector.Config) (*http.Client, error) {
			// One idle connection kept per delivery slot: with net/http's
			// default of two, every delivery beyond two at once would
			// open a new connection and leave one in TIME_WAIT.
			base := http.DefaultTransport.(*http.Transport).Clone()
			base.MaxIdleConnsPerHost = max(cfg.Delivery.Concurrency, http.DefaultMaxIdleConnsPerHost)
			return auth.NewClient(cfg, base)
		}
	}
	client, err := clients(cfg)
	if err != nil {
		var fe *connector.FieldError
		if !errors.As(err, &fe) {
			err = &connector.FieldError{Field: "auth", Err: err}
		}
		errs = append(errs, err)
	}
	lc.client = client
	if v := cfg.WebhookVerify(); v != nil {
		verifier, err := webhook.NewVerifier(v)
		if err != nil {
			errs = append(errs, err)
		} else {
			lc.verify = verifier
		}
	}
	adapter := g.cfg.Adapters[cfg.Type]
	if adapter == nil {
		errs = append(errs, &connector.FieldError{Field: "type", Err: fmt.Errorf("no adapter delivers to %s connectors in this gateway", cfg.Type)})
	} else if len(errs) == 0 {
		sender, err := adapter(cfg, lc.client)
		if err != nil {
			var fe *connector.FieldError
			if !errors.As(err, &fe) {
				err = &connector.FieldError{Field: "endpoint", Err: err}
			}
			errs = append(errs, err)
		}
		lc.sender = scrubbed(sender, cfg)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return lc, nil
}

// outboundMapping finds the mapping that turns HMS records of a type into
// what the connector takes: the one named under mapping.outbound, the
// rename map, or for a FHIR connector the shipped hms-<type>-to-fhir.
func (g *Gateway) outboundMapping(cfg connector.Config, typ string) (*transform.Mapping, error) {
	field := "mapping.outbound." + typ
	name := cfg.Mapping.Outbound[typ]
	switch {
	case name != "":
	case len(cfg.Mapping.Rename) > 0:
		m, err := transform.RenameMapping(cfg.Name+"-rename", cfg.Mapping.Rename)
		if err != nil {
			return nil, &connector.FieldError{Field: "mapping", Err: err}
		}
		return m, nil
	case cfg.Type == connector.FHIR:
		name = "hms-" + strings.ToLower(typ) + "-to-fhir"
		if _, err := g.mappings.Get(name); err != nil {
			return nil, &connector.FieldError{Field: field, Err: fmt.Errorf("no outbound mapping for %s records: name one, or add a mapping called %s", typ, name)}
		}
	default:
		return nil, nil // sent as they are
	}
	m, err := g.mappings.Get(name)
	if err != nil {
		return nil, &connector.FieldError{Field: field, Err: fmt.Errorf("no mapping named %q", name)}
	}
	if m.Input != transform.FormatJSON {
		return nil, &connector.FieldError{Field: field, Err: fmt.Errorf("mapping %s reads %s; an outbound mapping reads HMS records (json)", name, m.Input)}
	}
	if cfg.Type == connector.FHIR {
		if m.Output != transform.FormatFHIR && m.Output != transform.FormatJSON {
			return nil, &connector.FieldError{Field: field, Err: fmt.Errorf("mapping %s writes %s; a FHIR connector takes FHIR JSON", name, m.Output)}
		}
		if m.Resource != "" && m.Resource != typ {
			return nil, &connector.FieldError{Field: field, Err: fmt.Errorf("mapping %s produces %s resources, not %s", name, m.Resource, typ)}
		}
	}
	return m, nil
}

// inboundMapping finds the mapping that turns what the connector sends
// into HMS records of a type: the one named under mapping.inbound, or for a
// FHIR connector the shipped fhir-<type>-to-hms when there is one.
func (g *Gateway) inboundMapping(cfg connector.Config, typ string) (*transform.Mapping, error) {
	name := cfg.Mapping.Inbound[typ]
	if name == "" {
		if cfg.Type != connector.FHIR {
			return nil, nil
		}
		m, err := g.mappings.Get("fhir-" + strings.ToLower(typ) + "-to-hms")
		if err != nil {
			return nil, nil
		}
		return m, nil
	}
	field := "mapping.inbound." + typ
	m, err := g.mappings.Get(name)
	if err != nil {
		return nil, &connector.FieldError{Field: field, Err: fmt.Errorf("no mapping named %q", name)}
	}
	if m.Output != transform.FormatJSON {
		return nil, &connector.FieldError{Field: field, Err: fmt.Errorf("mapping %s writes %s; an inbound mapping writes HMS records (json)", name, m.Output)}
	}
	return m, nil
}

// policy is the outbox policy of a connector.
func policy(d connector.Delivery) outbox.Policy {
	return outbox.Policy{
		MaxAge:         time.Duration(d.MaxAge),
		InitialBackoff: time.Duration(d.InitialBackoff),
		MaxBackoff:     time.Duration(d.MaxBackoff),
		Timeout:        time.Duration(d.Timeout),
		Concurrency:    d.Concurrency,
	}
}

// loadConnectors brings up the stored connectors.
func (g *Gateway) loadConnectors() error {
	stored, err := g.store.Connectors(context.Background())
	if err != nil {
		return fmt.Errorf("load connectors: %w", err)
	}
	for _, sc := range stored {
		lc, err := g.runnable(&sc)
		if err != nil {
			// The mappings changed under it, say: keep it, stopped, with the reason.
			g.log.Error("connector cannot run", "connector", sc.ID, "error", err)
			continue
		}
		g.connectors[sc.ID] = lc
		if !sc.Paused && !sc.Disabled {
			g.outbox.Start(sc.ID, lc.sender, policy(lc.cfg.Delivery))
		}
	}
	return nil
}

// declareConnectors registers or updates the connectors of the config file.
func (g *Gateway) declareConnectors(cfgs []connector.Config) error {
	for _, cfg := range cfgs {
		id := ""
		cs, err := g.store.Connectors(context.Background())
		if err != nil {
			return fmt.Errorf("connector %s: %w", cfg.Name, err)
		}
		for _, c := range cs {
			if c.Name == cfg.Name {
				id = c.ID
			}
		}
		if _, err := g.saveConnector(context.Background(), id, cfg); err != nil {
			return fmt.Errorf("connector %s: %w", cfg.Name, err)
		}
	}
	return nil
}

// saveConnector registers (id "") or updates a connector and (re)starts
// its deliveries.
func (g *Gateway) saveConnector(ctx context.Context, id string, cfg connector.Config) (*store.Connector, error) {
	g.lifecycle.Lock()
	defer g.lifecycle.Unlock()
	if id == "" {
		id = newID()
	}
	lc, err := g.prepare(id, cfg)
	if err != nil {
		return nil, err
	}
	sealed, err := lc.cfg.EncryptSecrets(g.cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(sealed)
	if err != nil {
		return nil, err
	}
	saved, err := g.store.UpdateConnector(ctx, id, true, func(c *store.Connector) error {
		c.Name, c.Config = lc.cfg.Name, data
		return nil
	})
	if err != nil {
		return nil, err
	}
	lc.stored = data
	g.mu.Lock()
	old := g.connectors[id]
	g.connectors[id] = lc
	g.mu.Unlock()
	if old != nil {
		defer old.close() // once its worker has been replaced below
	}
	if saved.Paused || saved.Disabled {
		g.stopConnector(id)
	} else {
		g.outbox.Start(id, lc.sender, policy(lc.cfg.Delivery))
		g.startPolling(lc)
		g.startConsuming(lc)
	}
	return saved, nil
}

// storedConfig reads a stored connector's configuration, its secrets
// unsealed.
func (g *Gateway) storedConfig(sc *store.Connector) (connector.Config, error) {
	var cfg connector.Config
	if err := json.Unmarshal(sc.Config, &cfg); err != nil {
		return cfg, fmt.Errorf("connector %s: stored configuration: %w", sc.ID, err)
	}
	return cfg.DecryptSecrets(g.cfg.SecretKey)
}

// connectorDisabled is called by the outbox after a 410 Gone.
func (g *Gateway) connectorDisabled(id string) {
	g.log.Warn("connector disabled after 410 Gone", "connector", id)
}

func (g *Gateway) live(id string) *liveConnector {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.connectors[id]
}

// liveConnectors lists the running connectors, by id.
func (g *Gateway) liveConnectors() []*liveConnector {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := make([]*liveConnector, 0, len(g.connectors))
	for _, lc := range g.connectors {
		out = append(out, lc)
	}
	slices.SortFunc(out, func(a, b *liveConnector) int { return strings.Compare(a.id, b.id) })
	return out
}

// ---- HTTP

// connectorView is a connector as the API shows it: its configuration,
// secrets hidden, and its status.
func (g *Gateway) connectorView(ctx context.Context, sc *store.Connector) (map[string]any, error) {
	var cfg connector.Config
	json.Unmarshal(sc.Config, &cfg)
	view := map[string]any{}
	data, _ := json.Marshal(cfg.Redacted())
	json.Unmarshal(data, &view)
	counts, err := g.store.Counts(ctx, sc.ID)
	if err != nil {
		return nil, err
	}
	st := g.outbox.Status(sc.ID)
	status := "connected"
	switch {
	case sc.Disabled:
		status = "disabled"
	case sc.Paused:
		status = "paused"
	case g.live(sc.ID) == nil:
		status, sc.LastError = "error", "the connector's configuration no longer matches the gateway (see the log)"
	case st.Breaker != outbox.BreakerClosed || sc.LastError != "":
		status = "error"
	}
	view["connectorId"] = sc.ID
	view["status"] = status
	view["breaker"] = st.Breaker
	view["queued"] = counts[store.Queued]
	view["failed"] = counts[store.Failed]
	view["delivered"] = counts[store.Delivered]
	view["dead"] = counts[store.Dead]
	view["createdAt"] = sc.CreatedAt
	if !sc.LastSyncAt.IsZero() {
		view["lastSyncAt"] = sc.LastSyncAt
	}
	if sc.LastError != "" {
		view["lastError"] = sc.LastError
	}
	if p := g.progressOf(sc.ID); p != nil {
		view["pull"] = p
	}
	oldest, ok, err := g.store.OldestUndelivered(ctx, sc.ID)
	if err != nil {
		return nil, err
	}
	if ok {
		view["oldestQueuedAge"] = time.Since(oldest).Round(time.Second).Seconds()
	}
	return view, nil
}

func (g *Gateway) listConnectors(c echo.Context) error {
	ctx := c.Request().Context()
	cs, err := g.store.Connectors(ctx)
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(cs))
	for i := range cs {
		view, err := g.connectorView(ctx, &cs[i])
		if err != nil {
			return err
		}
		out = append(out, view)
	}
	return c.JSON(http.StatusOK, out)
}

func (g *Gateway) getConnector(c echo.Context) error {
	ctx := c.Request().Context()
	sc, err := g.store.Connector(ctx, c.Param("id"))
	if err != nil {
		return notFound(err, "connector", c.Param("id"))
	}
	view, err := g.connectorView(ctx, sc)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, view)
}

func (g *Gateway) createConnector(c echo.Context) error {
	body, err := readJSONBody(c, g.cfg.MaxBody)
	if err != nil {
		return err
	}
	cfg, err := connector.Parse(body)
	if err != nil {
		return configError(err)
	}
	sc, err := g.saveConnector(c.Request().Context(), "", cfg)
	if err != nil {
		return configError(err)
	}
	g.log.Info("connector registered", "connector", sc.ID, "type", string(cfg.Type))
	answer := map[string]any{"connectorId": sc.ID, "name": sc.Name, "status": "connected"}
	if err := g.setUp(c.Request().Context(), g.live(sc.ID)); err != nil {
		answer["status"], answer["lastError"] = "error", "set-up: "+err.Error()
	}
	return c.JSON(http.StatusCreated, answer)
}

func (g *Gateway) updateConnector(c echo.Context) error {
	id := c.Param("id")
	body, err := readJSONBody(c, g.cfg.MaxBody)
	if err != nil {
		return err
	}
	cfg, err := connector.Parse(body)
	if err != nil {
		return configError(err)
	}
	sc, err := g.store.Connector(c.Request().Context(), id)
	if err != nil {
		return notFound(err, "connector", id)
	}
	old, err := g.storedConfig(sc)
	if err != nil {
		return err
	}
	if _, err := g.saveConnector(c.Request().Context(), id, cfg.KeepSecrets(old)); err != nil {
		return configError(err)
	}
	g.setUp(c.Request().Context(), g.live(id))
	return g.getConnector(c)
}

func (g *Gateway) deleteConnector(c echo.Context) error {
	id := c.Param("id")
	g.lifecycle.Lock()
	defer g.lifecycle.Unlock()
	g.stopConnector(id)
	g.setups.stop(id)
	if err := g.store.DeleteConnector(c.Request().Context(), id); err != nil {
		return notFound(err, "connector", id)
	}
	g.mu.Lock()
	if lc := g.connectors[id]; lc != nil {
		lc.close()
	}
	delete(g.connectors, id)
	g.mu.Unlock()
	return c.NoContent(http.StatusNoContent)
}

// setPaused pauses or resumes a connector. Resuming also enables a
// connector disabled by a 410 Gone.
func (g *Gateway) setPaused(paused bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Param("id")
		g.lifecycle.Lock()
		defer g.lifecycle.Unlock()
		_, err := g.store.UpdateConnector(c.Request().Context(), id, false, func(sc *store.Connector) error {
			sc.Paused = paused
			if !paused && sc.Disabled {
				sc.Disabled, sc.LastError = false, ""
			}
			return nil
		})
		if err != nil {
			return notFound(err, "connector", id)
		}
		if paused {
			g.stopConnector(id)
		} else if lc := g.live(id); lc != nil {
			g.outbox.Start(id, lc.sender, policy(lc.cfg.Delivery))
			g.startPolling(lc)
			g.startConsuming(lc)
		}
		return g.getConnector(c)
	}
}

// syncConnector re-sends now everything the connector has not taken:
// failed messages become due at once and dead ones are replayed.
func (g *Gateway) syncConnector(c echo.Context) error {
	id := c.Param("id")
	var retried, replayed int
	started := time.Now().UTC()
	ctx := c.Request().Context()
	_, err := g.store.Connector(ctx, id)
	if err == nil {
		retried, err = g.store.RetryNow(ctx, id)
	}
	if err == nil {
		replayed, err = g.store.ReplayDead(ctx, id)
	}
	if err != nil {
		return notFound(err, "connector", id)
	}
	g.outbox.RetryNow(id)
	answer := map[string]any{"status": "sync_started", "startedAt": started, "retried": retried, "replayed": replayed}
	if lc := g.live(id); lc != nil && lc.cfg.Sync.Mode == connector.ModePoll {
		// A full pull, in the background; its progress is in the
		// connector's status under "pull".
		if !g.fullSync(lc) {
			answer["status"] = "sync_running"
		}
		answer["pull"] = g.progressOf(id)
	}
	return c.JSON(http.StatusAccepted, answer)
}

// replayDead replays every dead message of a connector.
func (g *Gateway) replayDead(c echo.Context) error {
	id := c.Param("id")
	ctx := c.Request().Context()
	var n int
	_, err := g.store.Connector(ctx, id)
	if err == nil {
		n, err = g.store.ReplayDead(ctx, id)
	}
	if err != nil {
		return notFound(err, "connector", id)
	}
	g.outbox.Notify(id)
	return c.JSON(http.StatusAccepted, map[string]any{"replayed": n})
}

// configError turns connector configuration problems into a 400 whose
// issues name each field.
func configError(err error) error {
	if errors.Is(err, store.ErrConflict) {
		return &statusError{status: http.StatusConflict, issue: fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueConflict, Diagnostics: "a connector with this name exists already", Expression: []string{"name"}}}
	}
	var issues fhir.Issues
	for _, e := range leafErrors(err) {
		var fe *connector.FieldError
		if errors.As(e, &fe) {
			is := fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueInvalid, Diagnostics: fe.Err.Error()}
			if fe.Field != "" {
				is.Expression = []string{fe.Field}
			}
			issues = append(issues, is)
			continue
		}
		return err
	}
	return &issuesError{status: http.StatusBadRequest, issues: issues}
}

// leafErrors flattens errors.Join trees into their leaves.
func leafErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leafErrors(e)...)
		}
		return out
	}
	return []error{err}
}

// notFound turns store.ErrNotFound into a 404 naming what was looked for.
func notFound(err error, what, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return &statusError{status: http.StatusNotFound, issue: fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueNotFound, Diagnostics: fmt.Sprintf("no %s %q", what, id)}}
	}
	if errors.Is(err, store.ErrConflict) {
		return &statusError{status: http.StatusConflict, issue: fhir.Issue{Severity: fhir.SeverityError, Code: fhir.IssueConflict, Diagnostics: err.Error()}}
	}
	return err
}
