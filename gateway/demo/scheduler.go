package demo

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// scheduler is the sample scheduler: an HMS-style REST API on 127.0.0.1
// that keeps patients and appointments in memory as HMS records. The
// gateway delivers to it (PUT and DELETE /api/{type}/{id}, with its API
// key in X-API-Key); its own changes it applies, then posts to the
// gateway's records API, naming its connector as their source so that the
// gateway does not deliver them back to it.
type scheduler struct {
	apiKey string
	srv    *http.Server
	served chan struct{}
	url    string // http://127.0.0.1:PORT
	gw     *api   // where its own changes go; set once the gateway runs
	source string // its connector's id, for ?source=; set once registered

	mu       sync.Mutex
	records  map[string]map[string]json.RawMessage // type → id → the record, canonical JSON
	received []received
}

// received is one delivery the scheduler took from the gateway.
type received struct {
	method, path string
	key          string // Idempotency-Key
	status       int
	note         string // created, updated, unchanged, deleted, absent
}

// startScheduler starts the sample scheduler on a free port of 127.0.0.1.
func startScheduler(apiKey string) (*scheduler, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sample scheduler: listen: %w", err)
	}
	s := &scheduler{
		apiKey:  apiKey,
		served:  make(chan struct{}),
		url:     "http://" + l.Addr().String(),
		records: map[string]map[string]json.RawMessage{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /api/{type}/{id}", s.put)
	mux.HandleFunc("DELETE /api/{type}/{id}", s.delete)
	mux.HandleFunc("GET /api/{type}/{id}", s.get)
	s.srv = &http.Server{Handler: s.authorized(mux), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.served)
		s.srv.Serve(l) // http.ErrServerClosed once shut down
	}()
	return s, nil
}

// close shuts the server down.
func (s *scheduler) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, s.srv.Close())
	}
	<-s.served
	return err
}

// authorized lets through requests that carry the API key.
func (s *scheduler) authorized(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-API-Key")), []byte(s.apiKey)) != 1 {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "an API key is needed in X-API-Key"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// put takes a record from the gateway: 201 when new, 200 when changed or
// when it holds that record already.
func (s *scheduler) put(w http.ResponseWriter, r *http.Request) {
	typ, id := r.PathValue("type"), r.PathValue("id")
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "unreadable body"})
		return
	}
	rec, err := canonical(data)
	if err != nil {
		s.note(r, http.StatusBadRequest, "refused")
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "a record is a JSON object"})
		return
	}
	s.mu.Lock()
	byID := s.records[typ]
	if byID == nil {
		byID = map[string]json.RawMessage{}
		s.records[typ] = byID
	}
	old, had := byID[id]
	byID[id] = rec
	s.mu.Unlock()
	status, note := http.StatusCreated, "created"
	switch {
	case had && bytes.Equal(old, rec):
		status, note = http.StatusOK, "unchanged"
	case had:
		status, note = http.StatusOK, "updated"
	}
	s.note(r, status, note)
	writeJSON(w, status, map[string]any{"type": typ, "id": id, "status": note})
}

// delete takes a deletion from the gateway; one of a record it does not
// hold (any more) succeeds too.
func (s *scheduler) delete(w http.ResponseWriter, r *http.Request) {
	typ, id := r.PathValue("type"), r.PathValue("id")
	s.mu.Lock()
	_, had := s.records[typ][id]
	delete(s.records[typ], id)
	s.mu.Unlock()
	note := "deleted"
	if !had {
		note = "absent"
	}
	s.note(r, http.StatusNoContent, note)
	w.WriteHeader(http.StatusNoContent)
}

// get answers one record.
func (s *scheduler) get(w http.ResponseWriter, r *http.Request) {
	rec := s.record(r.PathValue("type"), r.PathValue("id"))
	if rec == nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": "no such record"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(rec)
}

// note remembers a delivery the scheduler answered.
func (s *scheduler) note(r *http.Request, status int, note string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = append(s.received, received{method: r.Method, path: r.URL.Path, key: r.Header.Get("Idempotency-Key"), status: status, note: note})
}

// record returns a record the scheduler holds, nil when it holds none.
func (s *scheduler) record(typ, id string) json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records[typ][id]
}

// field returns one text field of a record the scheduler holds, "" when
// there is none.
func (s *scheduler) field(typ, id, name string) string {
	var rec map[string]any
	json.Unmarshal(s.record(typ, id), &rec)
	v, _ := rec[name].(string)
	return v
}

// deliveries returns what the scheduler took from the gateway, in order.
func (s *scheduler) deliveries() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.received...)
}

// Its own changes.

// save applies a change made at the scheduler, then tells the gateway:
// POST /api/records/{type} for a new record, PUT …/{id} for a changed one,
// DELETE …/{id} (rec nil) for one withdrawn, each with ?source= naming the
// scheduler's connector, which then gets no message for it. It returns the
// gateway's status and answer.
func (s *scheduler) save(ctx context.Context, typ, id string, rec map[string]any) (int, change, error) {
	s.mu.Lock()
	byID := s.records[typ]
	if byID == nil {
		byID = map[string]json.RawMessage{}
		s.records[typ] = byID
	}
	_, had := byID[id]
	if rec == nil {
		delete(byID, id)
	} else {
		data, err := json.Marshal(rec)
		if err == nil {
			data, err = canonical(data)
		}
		if err != nil {
			s.mu.Unlock()
			return 0, change{}, err
		}
		byID[id] = data
	}
	s.mu.Unlock()

	method, path := http.MethodPost, "/api/records/"+url.PathEscape(typ)
	switch {
	case rec == nil:
		method, path = http.MethodDelete, path+"/"+url.PathEscape(id)
	case had:
		method, path = http.MethodPut, path+"/"+url.PathEscape(id)
	}
	if s.source != "" {
		path += "?source=" + url.QueryEscape(s.source)
	}
	var answer map[string]any
	code, err := s.gw.call(ctx, method, path, rec, &answer)
	if err != nil {
		return 0, change{}, fmt.Errorf("sample scheduler: %w", err)
	}
	if code/100 != 2 {
		return code, change{}, fmt.Errorf("sample scheduler: %s %s: %d %s", method, path, code, outcomeText(answer))
	}
	var ch change
	data, _ := json.Marshal(answer)
	json.Unmarshal(data, &ch)
	return code, ch, nil
}

// canonical is a JSON object re-encoded with its keys sorted and its
// numbers as written, so that equal records have equal bytes.
func canonical(data []byte) (json.RawMessage, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var rec map[string]any
	if err := d.Decode(&rec); err != nil || rec == nil {
		return nil, errors.New("not a JSON object")
	}
	return json.Marshal(rec)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
