package adaptertest_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"go.uber.org/goleak"

	"github.com/liaisonhq/liaison/gateway/adapters/adaptertest"
	"github.com/liaisonhq/liaison/gateway/adapters/httpresult"
	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// reference is the least adapter that passes the suite: it POSTs the
// body with the idempotency key and lets httpresult judge the answer.
type reference struct {
	endpoint string
	client   *http.Client
}

func (r reference) Send(ctx context.Context, m outbox.Message) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.endpoint, bytes.NewReader(m.Body))
	if err != nil {
		return &outbox.SendError{Permanent: true, Err: err}
	}
	req.Header.Set("Idempotency-Key", m.IdempotencyKey)
	resp, err := r.client.Do(req)
	return httpresult.Classify("POST record", resp, err)
}

// TestSuite runs the suite against the reference adapter and Server, so
// that the suite itself is known to pass a correct adapter.
func TestSuite(t *testing.T) {
	adaptertest.Run(t, adaptertest.Factory{
		Target: func(t *testing.T) (adaptertest.Target, string) {
			srv := adaptertest.StartServer(t)
			return srv, srv.URL() + "/records"
		},
		New: func(cfg connector.Config, c *http.Client) (outbox.Sender, error) {
			return reference{endpoint: cfg.Endpoint, client: c}, nil
		},
		Config:  connector.Config{Name: "reference"},
		Message: outbox.Message{Op: outbox.Upsert, Body: []byte(`{"name":"Jane Secretperson"}`)},
		Secrets: []string{"Secretperson"},
	})
}

func TestServerRecords(t *testing.T) {
	srv := adaptertest.StartServer(t)
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		req, _ := http.NewRequest(method, srv.URL()+"/r/1?x=y", bytes.NewReader([]byte(`{"a":1}`)))
		req.Header.Set("Idempotency-Key", "k")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := map[string]int{http.MethodPost: 201, http.MethodPut: 200, http.MethodDelete: 204}[method]
		if resp.StatusCode != want {
			t.Errorf("%s: status %d, want %d", method, resp.StatusCode, want)
		}
	}
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	reqs := srv.Requests()
	if len(reqs) != 3 || reqs[1].Method != http.MethodPut || reqs[1].URI != "/r/1?x=y" || string(reqs[1].Body) != `{"a":1}` || reqs[1].Header.Get("Idempotency-Key") != "k" {
		t.Errorf("requests %+v", reqs)
	}
	if hs := srv.Headers(); len(hs) != 3 {
		t.Errorf("%d headers, want 3", len(hs))
	}
}
