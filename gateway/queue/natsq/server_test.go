package natsq

import (
	"errors"
	"fmt"
	"github.com/liaisonhq/liaison/gateway/internal/proctest"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// natsServer is a nats-server with JetStream that a test started.
type natsServer struct {
	bin  string
	port int
	dir  string // the store directory (-sd), kept across restarts
	log  string // the server's output
	proc *proctest.Proc
}

// startNATS starts `nats-server -js` on a free port of 127.0.0.1 with its
// store in a temporary directory, waits until JetStream answers, and stops
// it when the test ends. It skips the test when nats-server is not
// installed (scripts/test installs it).
func startNATS(t *testing.T) *natsServer {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		bin = "/usr/sbin/nats-server" // Debian's place, off a non-root PATH
		if _, err := os.Stat(bin); err != nil {
			t.Skip("nats-server is not installed (apt-get install nats-server, or run scripts/test, which installs it)")
		}
	}
	dir := t.TempDir()
	s := &natsServer{bin: bin, port: freePort(t), dir: filepath.Join(dir, "store"), log: filepath.Join(dir, "nats.log")}
	s.start(t)
	t.Cleanup(s.stop)
	return s
}

// url is the server's client URL.
func (s *natsServer) url() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// start starts the server in a process group of its own, and waits up to
// 10s for JetStream to answer.
func (s *natsServer) start(t *testing.T) {
	t.Helper()
	out, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(s.bin, "-js", "-a", "127.0.0.1", "-p", strconv.Itoa(s.port), "-sd", s.dir)
	cmd.Stdout, cmd.Stderr = out, out
	began := time.Now()
	if s.proc, err = proctest.Spawn(cmd); err != nil {
		t.Fatalf("start nats-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.ready()
		if err == nil {
			t.Logf("nats-server %s ready in %v", s.url(), time.Since(began).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			s.stop()
			b, _ := os.ReadFile(s.log)
			t.Fatalf("nats-server not ready after 10s: %v\n%s", err, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ready checks that JetStream answers.
func (s *natsServer) ready() error {
	nc, err := nats.Connect(s.url(), nats.Timeout(time.Second))
	if err != nil {
		return err
	}
	defer nc.Close()
	_, err = nc.Request("$JS.API.INFO", nil, time.Second)
	return err
}

// stop kills the server's process group and waits for the server; it is
// a no-op when the server is not running.
func (s *natsServer) stop() {
	s.proc.Kill()
	s.proc = nil
}

// restart stops the server and starts it again on the same port and store.
func (s *natsServer) restart(t *testing.T) {
	t.Helper()
	s.stop()
	s.start(t)
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// closedPort returns the URL of a port on which nothing listens.
func closedURL(t *testing.T) string {
	return fmt.Sprintf("nats://127.0.0.1:%d", freePort(t))
}

var errHandler = errors.New("handler failed")
