package jetstream

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/liaisonhq/liaison/gateway/internal/natstest"
)

// cluster is a set of nats-servers with JetStream run inside the test
// process, on 127.0.0.1: one alone, or three routed into one cluster.
// Each node keeps its ports and store across a restart.
type cluster struct {
	t     testing.TB
	nodes []*node
	procs *natstest.Cluster // the nodes that run in processes of their own
}

// node is one server of a cluster, run in the test process (srv, nil
// while it is stopped) or in a process of its own, node i of the
// cluster's procs, so that it can be SIGKILLed.
type node struct {
	opts *server.Options
	srv  *server.Server
	own  bool // run in a process of its own
}

// startSingle starts one server with JetStream; it stops when the test
// ends.
func startSingle(t testing.TB) *cluster { return startServers(t, 1, serverOptions{}) }

// startSingleSync is startSingle with the server writing every message to
// disk before it acknowledges (sync_interval: always).
func startSingleSync(t testing.TB) *cluster {
	return startServers(t, 1, serverOptions{syncAlways: true})
}

// startCluster starts a three-node JetStream cluster and waits until it
// has a meta leader; it stops when the test ends.
func startCluster(t testing.TB) *cluster { return startServers(t, 3, serverOptions{}) }

// startProcCluster is startCluster with each node in a process of its own
// (natstest: the test binary as a node), so that kill can SIGKILL one.
func startProcCluster(t testing.TB) *cluster {
	pc := natstest.StartCluster(t, 3)
	c := &cluster{t: t, procs: pc}
	for i := range 3 {
		c.nodes = append(c.nodes, &node{own: true, opts: &server.Options{ServerName: pc.Name(i), Host: "127.0.0.1", Port: pc.Port(i)}})
	}
	return c
}

// serverOptions are the variants of startServers.
type serverOptions struct {
	syncAlways bool // fsync every write
}

func startServers(t testing.TB, n int, so serverOptions) *cluster {
	t.Helper()
	dir := t.TempDir()
	ports, cports := make([]int, n), make([]int, n)
	for i := range n {
		ports[i], cports[i] = natstest.FreePort(t), natstest.FreePort(t)
	}
	var routes []string
	for _, p := range cports {
		routes = append(routes, "nats://127.0.0.1:"+strconv.Itoa(p))
	}
	c := &cluster{t: t}
	for i := range n {
		opts := &server.Options{
			ServerName:         "n" + strconv.Itoa(i),
			Host:               "127.0.0.1",
			Port:               ports[i],
			NoLog:              os.Getenv("LIAISON_NATS_LOG") == "",
			NoSigs:             true,
			JetStream:          true,
			StoreDir:           filepath.Join(dir, "n"+strconv.Itoa(i)),
			JetStreamMaxMemory: 64 << 20,
			JetStreamMaxStore:  1 << 30,
		}
		if !opts.NoLog {
			opts.Debug = false
			opts.Logtime = true
		}
		if n > 1 {
			opts.Cluster = server.ClusterOpts{Name: "liaison-test", Host: "127.0.0.1", Port: cports[i]}
			opts.Routes = server.RoutesFromStr(strings.Join(routes, ","))
		}
		opts.SyncAlways = so.syncAlways
		c.nodes = append(c.nodes, &node{opts: opts})
	}
	t.Cleanup(c.shutdown)
	for i := range c.nodes {
		c.start(i)
	}
	c.waitReady()
	return c
}

// start starts node i (stopped or never started) and waits until it
// takes connections.
func (c *cluster) start(i int) {
	c.t.Helper()
	nd := c.nodes[i]
	if nd.own {
		c.procs.Start(i)
		return
	}
	opts := *nd.opts // a server keeps and changes its options: give each start a copy
	s, err := server.NewServer(&opts)
	if err != nil {
		c.t.Fatalf("node %d: %v", i, err)
	}
	if !opts.NoLog {
		s.ConfigureLogger()
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		c.t.Fatalf("node %d not ready for connections after 10s", i)
	}
	nd.srv = s
}

// stop shuts node i down; its store stays.
func (c *cluster) stop(i int) {
	nd := c.nodes[i]
	if nd.own {
		c.procs.Stop(i)
		return
	}
	if nd.srv == nil {
		return
	}
	nd.srv.Shutdown()
	nd.srv.WaitForShutdown()
	nd.srv = nil
}

// kill SIGKILLs node i, which runs in a process of its own: what it had
// not written to its files is lost, as in a crash of the process.
func (c *cluster) kill(i int) {
	c.t.Helper()
	if !c.nodes[i].own || !c.procs.Up(i) {
		c.t.Fatalf("kill node %d: not a running process", i)
	}
	c.procs.Kill(i)
}

// restart starts node i again, on its ports and store, and waits until
// it serves JetStream (in the test process: until JetStream is current on
// it).
func (c *cluster) restart(i int) {
	c.t.Helper()
	c.stop(i)
	c.start(i)
	if !c.nodes[i].own {
		c.waitReady()
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		nc, err := nats.Connect(c.url(i), nats.Timeout(time.Second))
		if err == nil {
			_, err = nc.Request("$JS.API.INFO", nil, time.Second)
			nc.Close()
		}
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("node %d: no JetStream after 30s: %v", i, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *cluster) shutdown() {
	for i := range c.nodes {
		c.stop(i)
	}
}

// waitReady waits up to 30s until JetStream has a meta leader and every
// running node is current with it.
func (c *cluster) waitReady() {
	c.t.Helper()
	if c.nodes[0].own {
		c.procs.WaitReady()
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		leader, current := false, true
		for _, nd := range c.nodes {
			if nd.srv == nil {
				continue
			}
			if len(c.nodes) == 1 {
				leader = nd.srv.JetStreamEnabled()
				continue
			}
			if nd.srv.JetStreamIsLeader() {
				// the leader sees every running node online
				leader = len(nd.srv.JetStreamClusterPeers()) == c.running()
			}
			current = current && nd.srv.JetStreamIsCurrent()
		}
		if leader && current {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("JetStream: no meta leader seeing every node, or a node not current, after 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// running counts the nodes running.
func (c *cluster) running() int {
	n := 0
	for i, nd := range c.nodes {
		if nd.srv != nil || nd.own && c.procs.Up(i) {
			n++
		}
	}
	return n
}

// url is node i's client URL.
func (c *cluster) url(i int) string {
	return "nats://127.0.0.1:" + strconv.Itoa(c.nodes[i].opts.Port)
}

// urls lists every node's client URL, node first first.
func (c *cluster) urls(first int) string {
	u := []string{c.url(first)}
	for i := range c.nodes {
		if i != first {
			u = append(u, c.url(i))
		}
	}
	return strings.Join(u, ",")
}

// connect connects to node i, reconnecting to the others when it goes;
// the connection closes when the test ends.
func (c *cluster) connect(i int) *nats.Conn {
	c.t.Helper()
	nc, err := nats.Connect(c.urls(i), connectOptions("test")...)
	if err != nil {
		c.t.Fatalf("connect to node %d: %v", i, err)
	}
	c.t.Cleanup(nc.Close)
	return nc
}

// connectOptions are the client options of the tests' connections: keep
// trying for ever, quickly, and keep the order of the URLs given.
func connectOptions(name string) []nats.Option {
	return []nats.Option{
		nats.Name(name), nats.DontRandomize(), nats.MaxReconnects(-1),
		nats.ReconnectWait(50 * time.Millisecond), nats.Timeout(2 * time.Second),
		nats.NoCallbacksAfterClientClose(),
	}
}

// streamLeader returns the node leading a stream, waiting up to 30s for
// it to have one.
func (c *cluster) streamLeader(js natsjs.JetStream, stream string) int {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		s, err := js.Stream(ctx, stream)
		var leader string
		if err == nil {
			var info *natsjs.StreamInfo
			if info, err = s.Info(ctx); err == nil && info.Cluster != nil {
				leader = info.Cluster.Leader
			}
		}
		cancel()
		for i, nd := range c.nodes {
			if nd.opts.ServerName == leader && leader != "" {
				return i
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("stream %s: no leader after 30s (%v)", stream, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// eventually polls cond every 10ms until it holds, and fails the test when
// it still does not after d (at most 30s: a bound, not a measurement).
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestClusterHarness: the three nodes form one JetStream cluster that
// survives one node's restart; the single node serves JetStream.
func TestClusterHarness(t *testing.T) {
	t.Run("single", func(t *testing.T) {
		c := startSingle(t)
		nc := c.connect(0)
		if _, err := nc.Request("$JS.API.INFO", nil, 2*time.Second); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("three", func(t *testing.T) {
		c := startCluster(t)
		for i, nd := range c.nodes {
			if n := nd.srv.NumRoutes(); n == 0 {
				t.Errorf("node %d has no routes", i)
			}
		}
		c.restart(1)
		nc := c.connect(1)
		js, _ := natsjs.New(nc)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		if _, err := js.CreateStream(ctx, natsjs.StreamConfig{Name: "R3", Subjects: []string{"r3"}, Replicas: 3}); err != nil {
			t.Fatal(fmt.Errorf("R3 stream after a restart: %w", err))
		}
	})
}
