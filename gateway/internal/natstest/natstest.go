// Package natstest runs NATS JetStream servers for tests, on 127.0.0.1:
// clusters of nats-server nodes (github.com/nats-io/nats-server/v2, the
// version go.mod names), or one server (StartServer), each in a process
// of its own so that a test can SIGKILL one mid-stream, and so that the
// server's own data races do not fail a race-checked test. A node process
// is the test binary itself: the test package's TestMain calls RunNode
// first, which serves as a node and exits when the process was started
// as one.
//
//	func TestMain(m *testing.M) {
//		natstest.RunNode()
//		os.Exit(m.Run())
//	}
//
//	c := natstest.StartCluster(t, 3)
//	url := c.URLs()      // nats://127.0.0.1:p1,nats://…
//	c.Kill(1); c.Start(1)
package natstest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/liaisonhq/liaison/gateway/internal/proctest"
)

// envNode carries a node process's configuration.
const envNode = "LIAISON_NATSTEST_NODE"

// nodeConfig is what a node process needs.
type nodeConfig struct {
	Name, StoreDir, Cluster string
	Port, ClusterPort       int
	Routes                  []string
}

// RunNode serves as a cluster node and exits, when the process was
// started as one; otherwise it returns at once.
func RunNode() {
	raw := os.Getenv(envNode)
	if raw == "" {
		return
	}
	var nc nodeConfig
	if err := json.Unmarshal([]byte(raw), &nc); err != nil {
		fmt.Fprintln(os.Stderr, "natstest node config:", err)
		os.Exit(1)
	}
	opts := &server.Options{
		ServerName: nc.Name, Host: "127.0.0.1", Port: nc.Port, NoSigs: true, NoLog: os.Getenv("LIAISON_NATS_LOG") == "",
		JetStream: true, StoreDir: nc.StoreDir, JetStreamMaxMemory: 64 << 20, JetStreamMaxStore: 1 << 30,
	}
	if nc.Cluster != "" { // else a server of its own (StartServer)
		opts.Cluster = server.ClusterOpts{Name: nc.Cluster, Host: "127.0.0.1", Port: nc.ClusterPort}
		opts.Routes = server.RoutesFromStr(strings.Join(nc.Routes, ","))
	}
	s, err := server.NewServer(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "natstest node:", err)
		os.Exit(1)
	}
	if !opts.NoLog {
		s.ConfigureLogger()
	}
	s.Start()
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	<-term
	s.Shutdown()
	s.WaitForShutdown()
	os.Exit(0)
}

// Cluster is a JetStream cluster of node processes; each keeps its ports
// and store across a restart. It stops when the test ends.
type Cluster struct {
	t     testing.TB
	nodes []nodeConfig
	procs []*proctest.Proc
}

// StartCluster starts n routed nodes and waits up to 30s until JetStream
// can place a stream on every one.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	dir := t.TempDir()
	c := &Cluster{t: t, procs: make([]*proctest.Proc, n)}
	var routes []string
	for i := range n {
		nc := nodeConfig{Name: "n" + strconv.Itoa(i), StoreDir: filepath.Join(dir, "n"+strconv.Itoa(i)), Cluster: "liaison-test",
			Port: FreePort(t), ClusterPort: FreePort(t)}
		routes = append(routes, "nats://127.0.0.1:"+strconv.Itoa(nc.ClusterPort))
		c.nodes = append(c.nodes, nc)
	}
	for i := range c.nodes {
		c.nodes[i].Routes = routes
	}
	t.Cleanup(c.stopAll)
	for i := range c.nodes {
		c.Start(i)
	}
	c.WaitReady()
	return c
}

// StartServer starts one JetStream server, not clustered, in a process of
// its own, and waits until it takes streams. nats-server v2.12.0 has data
// races of its own when consumers of one stream are created at the same
// time (stream.go setConsumer against partitionUnique), as a gateway's
// partitions do; the race detector reports them against a test whose
// server runs in its process.
func StartServer(t testing.TB) *Cluster {
	t.Helper()
	c := &Cluster{t: t, procs: make([]*proctest.Proc, 1)}
	c.nodes = []nodeConfig{{Name: "n0", StoreDir: filepath.Join(t.TempDir(), "n0"), Port: FreePort(t)}}
	t.Cleanup(c.stopAll)
	c.Start(0)
	c.WaitReady()
	return c
}

// Start starts node i (never started, stopped or killed) and waits up to
// 10s until it takes connections.
func (c *Cluster) Start(i int) {
	c.t.Helper()
	b, _ := json.Marshal(c.nodes[i])
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envNode+"="+string(b))
	if os.Getenv("LIAISON_NATS_LOG") != "" {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	p, err := proctest.Spawn(cmd)
	if err != nil {
		c.t.Fatalf("start node %d: %v", i, err)
	}
	c.procs[i] = p
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(c.nodes[i].Port), time.Second)
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("node %d not taking connections after 10s: %v", i, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill SIGKILLs node i: what it had not written to its files is lost, as
// in a crash.
func (c *Cluster) Kill(i int) {
	c.procs[i].Kill()
	c.procs[i] = nil
}

// Stop shuts node i down (SIGTERM, then SIGKILL after 10s); its store
// stays for a Start.
func (c *Cluster) Stop(i int) {
	p := c.procs[i]
	if p == nil {
		return
	}
	p.Signal(syscall.SIGTERM)
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
	}
	p.Kill()
	c.procs[i] = nil
}

// Up reports whether node i runs.
func (c *Cluster) Up(i int) bool { return c.procs[i] != nil }

func (c *Cluster) stopAll() {
	for i := range c.procs {
		c.Stop(i)
	}
}

// Running counts the nodes running.
func (c *Cluster) Running() int {
	n := 0
	for _, p := range c.procs {
		if p != nil {
			n++
		}
	}
	return n
}

// URL is node i's client URL.
func (c *Cluster) URL(i int) string { return "nats://127.0.0.1:" + strconv.Itoa(c.nodes[i].Port) }

// URLs lists every node's client URL, comma-separated.
func (c *Cluster) URLs() string {
	var u []string
	for i := range c.nodes {
		u = append(u, c.URL(i))
	}
	return strings.Join(u, ",")
}

// Name is node i's server name, as stream info reports leaders.
func (c *Cluster) Name(i int) string { return c.nodes[i].Name }

// Port is node i's client port.
func (c *Cluster) Port(i int) int { return c.nodes[i].Port }

// WaitReady waits up to 30s until a stream with a replica on every
// running node can be made through each of them (and deletes it).
func (c *Cluster) WaitReady() {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = c.probe(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("JetStream cluster not ready after 30s: %v", err)
}

func (c *Cluster) probe() error {
	for i, p := range c.procs {
		if p == nil {
			continue
		}
		nc, err := nats.Connect(c.URL(i), nats.Timeout(time.Second))
		if err != nil {
			return err
		}
		defer nc.Close()
		js, _ := natsjs.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		name := "PROBE_" + strconv.Itoa(i)
		cfg := natsjs.StreamConfig{Name: name, Subjects: []string{"probe." + strconv.Itoa(i)}, Replicas: c.Running(), Storage: natsjs.MemoryStorage}
		if _, err := js.CreateStream(ctx, cfg); err != nil {
			return err
		}
		if err := js.DeleteStream(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// StreamLeader returns the node leading a stream, waiting up to 30s for it
// to have one.
func (c *Cluster) StreamLeader(stream string) int {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		leader, err := c.streamLeader(stream)
		for i, nd := range c.nodes {
			if leader != "" && nd.Name == leader {
				return i
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("stream %s: no leader after 30s (%v)", stream, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *Cluster) streamLeader(stream string) (string, error) {
	nc, err := nats.Connect(c.URLs(), nats.Timeout(time.Second))
	if err != nil {
		return "", err
	}
	defer nc.Close()
	js, _ := natsjs.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return "", err
	}
	info, err := s.Info(ctx)
	if err != nil || info.Cluster == nil {
		return "", err
	}
	return info.Cluster.Leader, nil
}

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
