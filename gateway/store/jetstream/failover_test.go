package jetstream

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/liaisonhq/liaison/gateway/internal/proctest"
	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/gateway/store"
)

// The test binary runs as a gateway process when envRole is roleGateway;
// the other variables configure it.
const (
	envRole        = "LIAISON_JS_TEST_ROLE"
	roleGateway    = "gateway"
	envURLs        = "LIAISON_JS_TEST_URLS"
	envDownstream  = "LIAISON_JS_TEST_DOWNSTREAM"
	envInstance    = "LIAISON_JS_TEST_INSTANCE"
	envPartitions  = "LIAISON_JS_TEST_PARTITIONS"
	clusterConn    = "ehr"
	readyLine      = "pulling"
	downstreamPath = "/apply"
)

// clusterPolicy is every gateway's policy in the cluster tests: the same
// in each, since the consumers' AckWait follows from it.
var clusterPolicy = outbox.Policy{Timeout: 2 * time.Second, InitialBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}

// clusterConfig is a gateway's Config in the cluster tests.
func clusterConfig(instance string, partitions int) Config {
	cfg := testConfig(partitions)
	cfg.Replicas, cfg.Instance = 3, instance
	return cfg
}

// gatewayProcess runs the test binary as one gateway delivering
// clusterConn to the downstream over HTTP, until it is killed. It prints
// readyLine when it pulls from every partition.
func gatewayProcess() int {
	instance := os.Getenv(envInstance)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("gateway", instance)
	partitions, _ := strconv.Atoi(os.Getenv(envPartitions))
	nc, err := nats.Connect(os.Getenv(envURLs), connectOptions(instance)...)
	if err != nil {
		log.Error("connect", "error", err)
		return 1
	}
	o, err := New(nc, clusterConfig(instance, partitions), log)
	if err != nil {
		log.Error("outbox", "error", err)
		return 1
	}
	go func() {
		for o.Status(clusterConn).Pulling < partitions {
			time.Sleep(10 * time.Millisecond)
		}
		fmt.Println(readyLine)
	}()
	s := &httpSender{client: &http.Client{}, url: os.Getenv(envDownstream), gateway: instance}
	_ = o.Run(context.Background(), clusterConn, s, clusterPolicy) // until killed
	return 0
}

// httpSender delivers to the test's downstream API.
type httpSender struct {
	client  *http.Client
	url     string
	gateway string
}

func (h *httpSender) Send(ctx context.Context, m outbox.Message) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(m.Body))
	if err != nil {
		return &outbox.SendError{Permanent: true, Err: err}
	}
	req.Header.Set("Idempotency-Key", m.IdempotencyKey)
	req.Header.Set("X-Message-Id", m.ID)
	req.Header.Set("X-Record", m.RecordType+"/"+m.RecordID)
	req.Header.Set("X-Gateway", h.gateway)
	resp, err := h.client.Do(req)
	if err != nil {
		return &outbox.SendError{Err: errors.New("no answer from the downstream")}
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return &outbox.SendError{Status: resp.StatusCode}
	}
	return nil
}

// downstream is the API the gateways deliver to: an idempotent one, which
// applies a message the first time its idempotency key comes, as a sink
// does; it counts what each gateway applied.
type downstream struct {
	*sink
	srv   *httptest.Server
	mu    sync.Mutex
	byGW  map[string]int
	delay time.Duration
}

func newDownstream(t testing.TB, delay time.Duration) *downstream {
	d := &downstream{sink: newSink(), byGW: map[string]int{}, delay: delay}
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		time.Sleep(d.delay)
		typ, id, _ := strings.Cut(r.Header.Get("X-Record"), "/")
		m := outbox.Message{ID: r.Header.Get("X-Message-Id"), RecordType: typ, RecordID: id, Body: body, IdempotencyKey: r.Header.Get("Idempotency-Key")}
		d.mu.Lock() // so that applied counts go to the right gateway
		defer d.mu.Unlock()
		before := d.appliedCount()
		_ = d.sink.Send(r.Context(), m)
		if d.appliedCount() > before {
			d.byGW[r.Header.Get("X-Gateway")]++
		}
	}))
	t.Cleanup(d.srv.Close)
	return d
}

// sender returns a Sender for the gateway instance; its idle connections
// close when the test ends.
func (d *downstream) sender(t testing.TB, instance string) *httpSender {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &httpSender{client: &http.Client{Transport: tr}, url: d.srv.URL + downstreamPath, gateway: instance}
}

func (d *downstream) appliedBy(gw string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.byGW[gw]
}

// spawnGateway runs the test binary as a gateway process connected to
// urls and waits up to 30s until it pulls from every partition. It is
// killed when the test ends.
func spawnGateway(t *testing.T, urls, downstreamURL, instance string, partitions int) *proctest.Proc {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	logPath := filepath.Join(t.TempDir(), instance+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envRole+"="+roleGateway, envURLs+"="+urls, envDownstream+"="+downstreamURL+downstreamPath,
		envInstance+"="+instance, envPartitions+"="+strconv.Itoa(partitions))
	cmd.Stdout, cmd.Stderr = w, logFile
	p, err := proctest.Spawn(cmd)
	w.Close()
	if err != nil {
		t.Fatalf("start gateway %s: %v", instance, err)
	}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("gateway %s log:\n%s", instance, b)
		}
	})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if sc.Text() == readyLine {
				ready <- true
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("gateway %s exited before pulling:\n%s", instance, b)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("gateway %s not pulling after 30s", instance)
	}
	return p
}

// preferred counts the partitions where instance a asks with a stronger
// priority than b, and where b does.
func preferred(a, b string, partitions int) (na, nb int) {
	ca, cb := clusterConfig(a, partitions), clusterConfig(b, partitions)
	for p := range partitions {
		switch pa, pb := ca.priority(clusterConn, p), cb.priority(clusterConn, p); {
		case pa < pb:
			na++
		case pb < pa:
			nb++
		}
	}
	return na, nb
}

// streamer publishes messages from its own goroutine, in batches, one
// batch after the other (so each record's changes are stored in order),
// keeping at most window of them published but not yet applied
// downstream: a steady stream, which is still flowing when the test
// kills something.
type streamer struct {
	mu        sync.Mutex
	published int
	done      chan error
}

func startStreamer(o *Outbox, msgs []store.Message, batch, window int, applied func() int) *streamer {
	st := &streamer{done: make(chan error, 1)}
	go func() {
		for i := 0; i < len(msgs); {
			n := min(batch, len(msgs)-i)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := o.Publish(ctx, msgs[i:i+n])
			cancel()
			if err != nil {
				st.done <- fmt.Errorf("publish of messages %d to %d: %w", i, i+n, err)
				return
			}
			i += n
			st.mu.Lock()
			st.published = i
			st.mu.Unlock()
			for deadline := time.Now().Add(30 * time.Second); i-applied() > window; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					st.done <- fmt.Errorf("after 30s, %d published and only %d applied", i, applied())
					return
				}
			}
		}
		st.done <- nil
	}()
	return st
}

// count is how many messages were published and acknowledged so far.
func (st *streamer) count() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.published
}

// wait waits for the last batch and returns the first error.
func (st *streamer) wait() error { return <-st.done }

// TestClusterGatewayKilled: two gateway processes share the partitions of
// an R3 outbox; one is SIGKILLed mid-stream. Every published message is
// applied downstream, each record's in order, and none twice; what the
// dead gateway held is redelivered to the other after AckWait.
func TestClusterGatewayKilled(t *testing.T) {
	const partitions = 8
	if a, b := preferred("gw-a", "gw-b", partitions); a == 0 || b == 0 {
		t.Fatalf("instances gw-a and gw-b prefer %d and %d partitions: pick names that share them", a, b)
	}
	c := startCluster(t)
	down := newDownstream(t, 3*time.Millisecond)
	oa := newOutbox(t, c.connect(0), clusterConfig("gw-a", partitions))
	run(t, oa, clusterConn, down.sender(t, "gw-a"), clusterPolicy)
	child := spawnGateway(t, c.urls(1), down.srv.URL, "gw-b", partitions)

	msgs := messages(clusterConn, 64, 25)
	op := newOutbox(t, c.connect(2), clusterConfig("accept", partitions))
	st := startStreamer(op, msgs, 25, 300, down.appliedCount)
	eventually(t, 30*time.Second, "both gateways deliver", func() bool {
		return down.appliedBy("gw-a") >= 20 && down.appliedBy("gw-b") >= 20
	})
	child.Kill() // SIGKILL, mid-stream
	killedAt := down.appliedCount()
	if err := st.wait(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("applied %d of %d", down.appliedCount(), len(msgs))
			dumpConsumers(t, oa, clusterConn)
			buf := make([]byte, 1<<22)
			n := runtime.Stack(buf, true)
			os.WriteFile("/tmp/stacks.txt", buf[:n], 0o644)
		}
	})
	eventually(t, 30*time.Second, "every message applied after the kill", func() bool { return down.appliedCount() == len(msgs) })
	checkApplied(t, down.snapshot(), msgs)
	eventually(t, 10*time.Second, "nothing left queued", func() bool { return counts(t, oa, clusterConn).Queued == 0 })
	t.Logf("%d messages: gw-a applied %d, gw-b %d (killed after %d in all); %d duplicate sends absorbed by idempotency keys",
		len(msgs), down.appliedBy("gw-a"), down.appliedBy("gw-b"), killedAt, down.dups)
	if killedAt == len(msgs) {
		t.Error("the gateway was killed after the stream ended, not mid-stream")
	}
}

// TestClusterNodeKilled: two gateways deliver from an R3 outbox while the
// node leading the outbox stream goes mid-stream — shut down, or SIGKILLed
// (nodes in processes of their own) — and later comes back. Publishing
// goes on (acknowledged by the two others), and every message is applied,
// each record's in order, none twice.
func TestClusterNodeKilled(t *testing.T) {
	tests := []struct {
		name  string
		start func(testing.TB) *cluster
		down  func(c *cluster, i int)
	}{
		{"shutdown", startCluster, (*cluster).stop},
		{"SIGKILL", startProcCluster, (*cluster).kill},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			began := time.Now()
			c := tt.start(t)
			t.Logf("cluster ready in %v", time.Since(began).Round(time.Millisecond))
			nodeKilled(t, c, tt.down)
		})
	}
}

func nodeKilled(t *testing.T, c *cluster, down func(c *cluster, i int)) {
	const partitions = 8
	setup := newOutbox(t, c.connect(0), clusterConfig("setup", partitions))
	leader := c.streamLeader(setup.js, DefaultStream)
	other := (leader + 1) % 3
	ds := newDownstream(t, 2*time.Millisecond)
	oa := newOutbox(t, c.connect(leader), clusterConfig("gw-a", partitions))
	ob := newOutbox(t, c.connect(other), clusterConfig("gw-b", partitions))
	run(t, oa, clusterConn, ds.sender(t, "gw-a"), clusterPolicy)
	run(t, ob, clusterConn, ds.sender(t, "gw-b"), clusterPolicy)

	msgs := messages(clusterConn, 64, 25)
	op := newOutbox(t, c.connect(leader), clusterConfig("accept", partitions))
	st := startStreamer(op, msgs, 25, 200, ds.appliedCount)
	eventually(t, 30*time.Second, "a quarter applied", func() bool { return ds.appliedCount() >= 400 })
	began := time.Now()
	down(c, leader)
	stoppedAt, publishedAt := ds.appliedCount(), st.count()
	// With one node of three gone, publishes are still acknowledged and
	// delivery goes on.
	eventually(t, 30*time.Second, "publish and delivery go on with a node down", func() bool {
		return st.count() >= publishedAt+200 && ds.appliedCount() >= stoppedAt+200
	})
	t.Logf("node n%d down; publish and delivery went on for %v", leader, time.Since(began).Round(time.Millisecond))
	began = time.Now()
	c.restart(leader)
	t.Logf("node n%d back in %v", leader, time.Since(began).Round(time.Millisecond))
	if err := st.wait(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("applied %d of %d", ds.appliedCount(), len(msgs))
			dumpConsumers(t, ob, clusterConn)
		}
	})
	eventually(t, 30*time.Second, "every message applied", func() bool { return ds.appliedCount() == len(msgs) })
	checkApplied(t, ds.snapshot(), msgs)
	eventually(t, 10*time.Second, "nothing left queued", func() bool { return counts(t, ob, clusterConn).Queued == 0 })
	t.Logf("%d messages: gw-a applied %d, gw-b %d; node n%d went after %d; %d duplicate sends absorbed by idempotency keys",
		len(msgs), ds.appliedBy("gw-a"), ds.appliedBy("gw-b"), leader, stoppedAt, ds.dups)
	if stoppedAt == len(msgs) {
		t.Error("the node went after the stream ended, not mid-stream")
	}
	if ds.appliedBy("gw-a") == 0 || ds.appliedBy("gw-b") == 0 {
		t.Error("one gateway delivered everything: the partitions were not shared")
	}
}

// dumpConsumers logs the state of a connector's partition consumers, for
// a failed test.
func dumpConsumers(t testing.TB, o *Outbox, conn string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for p := range o.cfg.Partitions {
		c, err := o.js.Consumer(ctx, o.cfg.Stream, consumerName(conn, p))
		if err != nil {
			t.Logf("partition %d: %v", p, err)
			continue
		}
		i, err := c.Info(ctx)
		if err != nil {
			t.Logf("partition %d: %v", p, err)
			continue
		}
		t.Logf("partition %d: pending %d, ack pending %d, waiting %d, redelivered %d, delivered %d/%d, ack floor %d, leader %v",
			p, i.NumPending, i.NumAckPending, i.NumWaiting, i.NumRedelivered, i.Delivered.Stream, i.Delivered.Consumer, i.AckFloor.Stream, i.Cluster)
	}
}
