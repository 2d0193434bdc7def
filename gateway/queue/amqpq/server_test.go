package amqpq

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/liaisonhq/liaison/gateway/internal/proctest"
)

// rabbitStartTimeout bounds a RabbitMQ start, until AMQP answers.
const rabbitStartTimeout = 60 * time.Second

// rabbitServer is a RabbitMQ node that a test started, with an epmd of its
// own, everything on 127.0.0.1 and in a temporary directory.
type rabbitServer struct {
	bin, epmdBin             string
	port, distPort, epmdPort int
	dir, log                 string
	rmq, epmd                *proctest.Proc
}

// startRabbit starts a RabbitMQ node: its own epmd (ERL_EPMD_PORT) and
// rabbitmq-server with RABBITMQ_NODE_PORT, RABBITMQ_DIST_PORT and a node
// name liaison-test-<port>@localhost, its database, logs and plugins file
// in a temporary directory. It waits until the broker accepts an AMQP
// connection (at most rabbitStartTimeout), and kills both process groups
// when the test ends. It skips the test when RabbitMQ is not installed
// (scripts/test installs it).
func startRabbit(t *testing.T) *rabbitServer {
	t.Helper()
	// Debian's /usr/sbin/rabbitmq-server re-runs itself as the rabbitmq
	// user through su; the script it runs takes the environment as is.
	bin := "/usr/lib/rabbitmq/bin/rabbitmq-server"
	if _, err := os.Stat(bin); err != nil {
		if bin, err = exec.LookPath("rabbitmq-server"); err != nil {
			t.Skip("rabbitmq-server is not installed (apt-get install rabbitmq-server, or run scripts/test, which installs it)")
		}
	}
	epmd, err := exec.LookPath("epmd")
	if err != nil {
		t.Skip("epmd (Erlang) is not installed (apt-get install rabbitmq-server, or run scripts/test, which installs it)")
	}
	dir := t.TempDir()
	s := &rabbitServer{
		bin: bin, epmdBin: epmd,
		port: freePort(t), distPort: freePort(t), epmdPort: freePort(t),
		dir: dir, log: filepath.Join(dir, "rabbitmq.log"),
	}
	files := map[string]string{
		"enabled_plugins": "[].\n",
		// A small maximum, so that a test can exceed it.
		"rabbitmq.conf": "max_message_size = 1048576\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(s.stop)
	s.epmd = s.spawn(t, s.epmdBin, []string{"-port", strconv.Itoa(s.epmdPort)}, nil)
	// Wait for it: else the node starts an epmd daemon of its own, which
	// would outlive the test.
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(s.epmdPort), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("epmd not listening after 5s: %v\n%s", err, s.tail())
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.start(t)
	return s
}

// nodeName is the broker's Erlang node name.
func (s *rabbitServer) nodeName() string {
	return "liaison-test-" + strconv.Itoa(s.port) + "@localhost"
}

// url is the broker's AMQP URI, as guest (allowed from the loopback).
func (s *rabbitServer) url() string { return "amqp://127.0.0.1:" + strconv.Itoa(s.port) + "/" }

// start starts rabbitmq-server and waits until it accepts an AMQP
// connection.
func (s *rabbitServer) start(t *testing.T) {
	t.Helper()
	env := []string{
		"HOME=" + s.dir, // the Erlang cookie
		// The script then execs the Erlang VM instead of running it as a
		// child: so the VM is the process killed with the test binary.
		"RUNNING_UNDER_SYSTEMD=true",
		"RABBITMQ_NODENAME=" + s.nodeName(),
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT=" + strconv.Itoa(s.port),
		"RABBITMQ_DIST_PORT=" + strconv.Itoa(s.distPort),
		"ERL_EPMD_PORT=" + strconv.Itoa(s.epmdPort),
		"RABBITMQ_MNESIA_BASE=" + filepath.Join(s.dir, "mnesia"),
		"RABBITMQ_LOG_BASE=" + filepath.Join(s.dir, "log"),
		"RABBITMQ_LOGS=-", // to the log file below
		"RABBITMQ_ENABLED_PLUGINS_FILE=" + filepath.Join(s.dir, "enabled_plugins"),
		"RABBITMQ_PLUGINS_EXPAND_DIR=" + filepath.Join(s.dir, "plugins-expand"),
		"RABBITMQ_CONFIG_FILE=" + filepath.Join(s.dir, "rabbitmq"),
		"RABBITMQ_ADVANCED_CONFIG_FILE=" + filepath.Join(s.dir, "advanced.config"),
		"RABBITMQ_CONF_ENV_FILE=" + filepath.Join(s.dir, "rabbitmq-env.conf"),
	}
	began := time.Now()
	s.rmq = s.spawn(t, s.bin, nil, env)
	deadline := began.Add(rabbitStartTimeout)
	for {
		conn, err := amqp.DialConfig(s.url(), amqp.Config{Dial: amqp.DefaultDial(time.Second)})
		if err == nil {
			_ = conn.Close()
			t.Logf("rabbitmq-server %s ready in %v", s.url(), time.Since(began).Round(time.Millisecond))
			return
		}
		select {
		case <-s.rmq.Done():
			t.Fatalf("rabbitmq-server exited while starting:\n%s", s.tail())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("rabbitmq-server not ready after %v: %v\n%s", rabbitStartTimeout, err, s.tail())
		}
	}
}

// spawn starts bin, its output appended to the log file.
func (s *rabbitServer) spawn(t *testing.T, bin string, args, env []string) *proctest.Proc {
	t.Helper()
	out, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(bin, args...)
	cmd.Dir = s.dir
	cmd.Env = append(environ(), env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, out, out
	p, err := proctest.Spawn(cmd)
	if err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	return p
}

// environ is the test's environment less what would steer RabbitMQ or
// Erlang elsewhere: RABBITMQ_*, ERL_*, NOTIFY_SOCKET.
func environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RABBITMQ_") && !strings.HasPrefix(kv, "ERL_") && !strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			env = append(env, kv)
		}
	}
	return env
}

// pause stops the broker (SIGSTOP): connections stay open, nothing
// answers. It returns once every thread of the broker's processes has
// stopped: kill(2) returns before they do, and a broker thread still
// running for a moment after it can answer what a test sends next (a
// confirm, a nack). resume lets the broker go on.
func (s *rabbitServer) pause(t *testing.T) {
	t.Helper()
	s.rmq.Signal(syscall.SIGSTOP)
	if _, err := os.Stat("/proc/self/task"); err != nil {
		time.Sleep(100 * time.Millisecond) // no procfs to tell: a moment
		return
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		running, found := s.running()
		if found > 0 && running == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rabbitmq-server not stopped 10s after SIGSTOP: %d processes found, %d threads running", found, running)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (s *rabbitServer) resume() { s.rmq.Signal(syscall.SIGCONT) }

// running counts the threads of the broker's process group (the one
// pause signals: that of the process the test started, the child of the
// test with the node name in its environment) that have not stopped, and
// the group's processes. Port helpers such as erl_child_setup leave the
// group; they answer no AMQP.
func (s *rabbitServer) running() (threads, found int) {
	mark := []byte("\x00RABBITMQ_NODENAME=" + s.nodeName() + "\x00")
	procs, _ := os.ReadDir("/proc")
	group := 0
	for _, p := range procs {
		if _, ppid, _, ok := procStat(filepath.Join("/proc", p.Name(), "stat")); ok && ppid == os.Getpid() {
			env, err := os.ReadFile(filepath.Join("/proc", p.Name(), "environ"))
			if err == nil && bytes.Contains(append([]byte{0}, env...), mark) {
				group, _ = strconv.Atoi(p.Name())
				break
			}
		}
	}
	if group == 0 {
		return 0, 0
	}
	for _, p := range procs {
		if _, _, pgrp, ok := procStat(filepath.Join("/proc", p.Name(), "stat")); !ok || pgrp != group {
			continue
		}
		found++
		tasks, _ := os.ReadDir(filepath.Join("/proc", p.Name(), "task"))
		for _, task := range tasks {
			state, _, _, ok := procStat(filepath.Join("/proc", p.Name(), "task", task.Name(), "stat"))
			if ok && state != 'T' && state != 't' { // gone is as good as stopped
				threads++
			}
		}
	}
	return threads, found
}

// procStat reads a process's or a thread's state, parent and process
// group from its stat file: "pid (comm) state ppid pgrp …", comm may hold
// spaces and parentheses.
func procStat(path string) (state byte, ppid, pgrp int, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 3 || len(f[0]) != 1 {
		return 0, 0, 0, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgrp, err2 := strconv.Atoi(f[2])
	return f[0][0], ppid, pgrp, err1 == nil && err2 == nil
}

// stop kills the broker and its epmd.
func (s *rabbitServer) stop() {
	s.rmq.Kill()
	s.epmd.Kill()
	s.rmq, s.epmd = nil, nil
}

// restart kills the broker and starts it again on the same ports and
// database.
func (s *rabbitServer) restart(t *testing.T) {
	t.Helper()
	s.rmq.Kill()
	s.start(t)
}

// tail returns the end of the log.
func (s *rabbitServer) tail() string {
	b, _ := os.ReadFile(s.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
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

// closedURL returns the URI of a port on which nothing listens.
func closedURL(t *testing.T) string {
	return fmt.Sprintf("amqp://127.0.0.1:%d/", freePort(t))
}
