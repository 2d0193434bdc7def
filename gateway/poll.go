package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/liaisonhq/liaison/fhir"
	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/store"
)

// pollPageSize is how many resources one page of a poll asks for.
const pollPageSize = 100

// maxPollPage bounds the body of one page of a poll.
const maxPollPage = 32 << 20

// syncProgress is how a connector's pull is going, shown in its status.
type syncProgress struct {
	State      string    `json:"state"` // running, done, failed
	Full       bool      `json:"full"`  // a manual sync: everything, not only what changed
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	Pages      int       `json:"pages"`
	Resources  int       `json:"resources"`
	Error      string    `json:"error,omitempty"`
}

// pollers runs one poll loop per poll-mode connector while the gateway
// serves, and keeps the progress of each connector's last pull.
type pollers struct {
	loops    tasks
	mu       sync.Mutex
	progress map[string]*syncProgress
	pulling  map[string]bool
	again    map[string]bool // an incremental pull asked for while one ran
	wg       sync.WaitGroup  // pulls started by a manual sync or a notification
}

// startPolling (re)starts the poll loop of a connector, when it polls and
// the gateway serves.
func (g *Gateway) startPolling(lc *liveConnector) {
	if lc.cfg.Sync.Mode != connector.ModePoll || (lc.cfg.Type != connector.FHIR && lc.cfg.Type != connector.REST) {
		g.pollers.loops.stop(lc.id)
		return
	}
	g.pollers.loops.start(lc.id, func(ctx context.Context) { g.pollLoop(ctx, lc) })
}

// pollLoop pulls what changed every sync.interval until ctx ends. When
// gateways share a backend, one of them polls a connector at a time: the
// one holding its lease, renewed at each pull and taken over by another
// gateway once it has not been for three intervals.
func (g *Gateway) pollLoop(ctx context.Context, lc *liveConnector) {
	interval := time.Duration(lc.cfg.Sync.Interval)
	if interval <= 0 {
		interval = time.Minute
	}
	for {
		held, err := g.store.Lease(ctx, "poll/"+lc.id, g.instance, 3*interval)
		if err != nil && ctx.Err() == nil {
			g.log.Warn("poll lease", "connector", lc.id, "error", err)
		}
		if held {
			g.pull(ctx, lc, false)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// fullSync starts a full pull of a poll connector in the background; false
// when one is running already.
func (g *Gateway) fullSync(lc *liveConnector) bool { return g.startPull(lc, true) }

// startPull starts a pull of the connector in the background: everything
// (full) or what changed since its cursors. False when one is running
// already; an incremental pull asked for meanwhile runs once that one
// ends, so no notification is lost.
func (g *Gateway) startPull(lc *liveConnector, full bool) bool {
	p := &g.pollers
	p.loops.mu.Lock()
	ctx := p.loops.ctx
	p.loops.mu.Unlock()
	if ctx == nil {
		ctx = context.Background()
	}
	if !g.beginPull(lc.id, full) {
		if !full {
			p.mu.Lock()
			p.again[lc.id] = true
			p.mu.Unlock()
		}
		return false
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		g.pullAll(ctx, lc, full)
		for g.pullAgain(lc.id) && ctx.Err() == nil {
			g.pullAll(ctx, lc, false)
		}
	}()
	return true
}

// pullAgain reports whether an incremental pull was asked for while the
// last one ran, and if so marks the next one as running.
func (g *Gateway) pullAgain(id string) bool {
	p := &g.pollers
	p.mu.Lock()
	again := p.again[id]
	delete(p.again, id)
	p.mu.Unlock()
	return again && g.beginPull(id, false)
}

// beginPull marks a pull of the connector as running; false if one is.
func (g *Gateway) beginPull(id string, full bool) bool {
	p := &g.pollers
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pulling[id] {
		return false
	}
	p.pulling[id] = true
	p.progress[id] = &syncProgress{State: "running", Full: full, StartedAt: time.Now().UTC()}
	return true
}

// pull is one scheduled pull; skipped while another runs.
func (g *Gateway) pull(ctx context.Context, lc *liveConnector, full bool) {
	if g.beginPull(lc.id, full) {
		g.pullAll(ctx, lc, full)
	}
}

// pullAll pulls every record type of the connector and records the outcome.
func (g *Gateway) pullAll(ctx context.Context, lc *liveConnector, full bool) {
	var err error
	if lc.cfg.Type == connector.REST {
		err = g.pullREST(ctx, lc, full)
	} else {
		for _, typ := range lc.cfg.Resources {
			if err = g.pullType(ctx, lc, typ, full); err != nil {
				break
			}
		}
	}
	p := &g.pollers
	p.mu.Lock()
	prog := p.progress[lc.id]
	prog.FinishedAt, prog.State = time.Now().UTC(), "done"
	if err != nil {
		prog.State, prog.Error = "failed", err.Error()
	}
	delete(p.pulling, lc.id)
	p.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		g.log.Warn("poll failed", "connector", lc.id, "error", err.Error())
	}
	g.store.UpdateConnector(context.WithoutCancel(ctx), lc.id, false, func(c *store.Connector) error {
		if err != nil {
			c.LastError = "poll: " + err.Error()
		} else {
			c.LastSyncAt, c.LastError = time.Now(), ""
		}
		return nil
	})
}

// pageDone counts one page of a pull, and the resources it held, in the
// connector's pull progress.
func (g *Gateway) pageDone(id string, resources int) {
	g.pollers.mu.Lock()
	defer g.pollers.mu.Unlock()
	if prog := g.pollers.progress[id]; prog != nil {
		prog.Pages++
		prog.Resources += resources
	}
}

// cursorKey names the stored cursor of a connector's record type.
func cursorKey(id, typ string) string { return "cursor/" + id + "/" + typ }

// pullType pages through what changed on the FHIR server since the cursor
// (everything when full): _lastUpdated=gt{cursor}, sorted by
// _lastUpdated, following Bundle.link[next]. Each page is applied in one
// commit together with the cursor it advances to, so a crash never skips
// records nor moves the cursor past what was stored.
func (g *Gateway) pullType(ctx context.Context, lc *liveConnector, typ string, full bool) error {
	var cursor string
	if !full {
		kept, err := g.store.Meta(ctx, cursorKey(lc.id, typ))
		if err != nil {
			return err
		}
		cursor = string(kept)
	}
	q := url.Values{"_sort": {"_lastUpdated"}, "_count": {fmt.Sprint(pollPageSize)}}
	if cursor != "" {
		q.Set("_lastUpdated", "gt"+cursor)
	}
	next := fhirBase(lc.cfg.Endpoint) + "/" + typ + "?" + q.Encode()
	for next != "" {
		page, err := g.fetchPage(ctx, lc, next)
		if err != nil {
			return err
		}
		if page.Type() != "Bundle" {
			return fmt.Errorf("GET %s: the answer is not a Bundle", typ)
		}
		entries := fhir.Entries(page)
		newCursor := cursor
		for _, r := range entries {
			meta, _ := r["meta"].(map[string]any)
			if lu, _ := meta["lastUpdated"].(string); lu > newCursor {
				newCursor = lu
			}
		}
		in := inbound{conn: lc, resource: page, cursorKey: cursorKey(lc.id, typ), cursor: newCursor}
		if _, _, err := g.receive(ctx, in); err != nil {
			return fmt.Errorf("%s page: %w", typ, err)
		}
		cursor = newCursor
		g.pageDone(lc.id, len(entries))
		next = nextLink(page)
	}
	return nil
}

// fetchPage GETs one page of a search.
func (g *Gateway) fetchPage(ctx context.Context, lc *liveConnector, u string) (fhir.Resource, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", mimeFHIRJSON)
	res, err := lc.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("search: %w", scrubURL(err))
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxPollPage))
	if err != nil {
		return nil, fmt.Errorf("search: %w", scrubURL(err))
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("search: %s", res.Status)
	}
	page, err := fhir.ParseJSON(data)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return page, nil
}

// scrubURL drops the URL from a client error: a search URL may hold a
// cursor or, from a next link, anything the server put there.
func scrubURL(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// nextLink is a searchset's link[next], "" when it is the last page.
func nextLink(b fhir.Resource) string {
	links, _ := b["link"].([]any)
	for _, l := range links {
		m, _ := l.(map[string]any)
		if m["relation"] == "next" {
			u, _ := m["url"].(string)
			return u
		}
	}
	return ""
}

// fhirBase is a FHIR endpoint without a trailing resource type.
func fhirBase(endpoint string) string {
	base := strings.TrimSuffix(endpoint, "/")
	if i := strings.LastIndexByte(base, '/'); i >= 0 && fhir.IsResourceType(base[i+1:]) {
		base = base[:i]
	}
	return base
}

// progressOf is a connector's last pull, for its status; nil when none.
func (g *Gateway) progressOf(id string) *syncProgress {
	g.pollers.mu.Lock()
	defer g.pollers.mu.Unlock()
	if p := g.pollers.progress[id]; p != nil {
		cp := *p
		return &cp
	}
	return nil
}

// running tells whether a connector is neither paused nor disabled: its
// deliveries run.
func (g *Gateway) running(id string) bool { return g.outbox.Status(id).Running }

// maxRESTPages bounds one pull of a REST API.
const maxRESTPages = 1000

// pullREST pulls a REST API's changes since the cursor: GET
// {endpoint}?{since}={cursor}, the items at sync.items, ordered by their
// sync.cursor field; again from the new cursor until a page brings nothing
// new. Each page is one commit with its cursor.
func (g *Gateway) pullREST(ctx context.Context, lc *liveConnector, full bool) error {
	if len(lc.cfg.Resources) != 1 {
		return fmt.Errorf("polling a REST API needs exactly one record type in resources")
	}
	key := cursorKey(lc.id, lc.cfg.Resources[0])
	var cursor string
	if !full {
		kept, err := g.store.Meta(ctx, key)
		if err != nil {
			return err
		}
		cursor = string(kept)
	}
	since := lc.cfg.Sync.Since
	if since == "" {
		since = "since"
	}
	for range maxRESTPages {
		u, err := url.Parse(lc.cfg.Endpoint)
		if err != nil {
			return err
		}
		if cursor != "" {
			q := u.Query()
			q.Set(since, cursor)
			u.RawQuery = q.Encode()
		}
		items, err := g.fetchItems(ctx, lc, u.String())
		if err != nil {
			return err
		}
		newCursor := cursor
		for _, it := range items {
			if v := cursorText(it[lc.cfg.Sync.Cursor]); later(v, newCursor) {
				newCursor = v
			}
		}
		if len(items) > 0 {
			if _, _, err := g.receive(ctx, inbound{conn: lc, items: items, cursorKey: key, cursor: newCursor}); err != nil {
				return fmt.Errorf("page: %w", err)
			}
		}
		g.pageDone(lc.id, len(items))
		if len(items) == 0 || newCursor == cursor {
			return nil
		}
		cursor = newCursor
	}
	return fmt.Errorf("more than %d pages in one pull", maxRESTPages)
}

// fetchItems GETs a page of a REST API and returns the items at sync.items.
func (g *Gateway) fetchItems(ctx context.Context, lc *liveConnector, u string) ([]map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := lc.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("poll: %w", scrubURL(err))
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxPollPage))
	if err != nil {
		return nil, fmt.Errorf("poll: %w", scrubURL(err))
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("poll: %s", res.Status)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var doc any
	if err := d.Decode(&doc); err != nil {
		return nil, fmt.Errorf("poll: the answer is not JSON")
	}
	if p := lc.cfg.Sync.Items; p != "" {
		for _, part := range strings.Split(p, ".") {
			obj, _ := doc.(map[string]any)
			doc = obj[part]
		}
	}
	list, ok := doc.([]any)
	if !ok && doc != nil {
		return nil, fmt.Errorf("poll: no array of items at %q", lc.cfg.Sync.Items)
	}
	items := make([]map[string]any, 0, len(list))
	for _, it := range list {
		rec, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("poll: an item at %q is not an object", lc.cfg.Sync.Items)
		}
		items = append(items, rec)
	}
	return items, nil
}

// cursorText is a cursor field's value as text.
func cursorText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	return ""
}

// later tells whether cursor value a comes after b: numerically when both
// are numbers, else as text (ISO 8601 times order as text).
func later(a, b string) bool {
	if b == "" {
		return a != ""
	}
	fa, errA := strconv.ParseFloat(a, 64)
	fb, errB := strconv.ParseFloat(b, 64)
	if errA == nil && errB == nil {
		return fa > fb
	}
	return a > b
}
