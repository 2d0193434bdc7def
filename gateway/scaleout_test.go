package gateway

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liaisonhq/liaison/gateway/internal/fhirserver"
	"github.com/liaisonhq/liaison/gateway/internal/natstest"
)

// Two gateways (the real binary, liaison serve --store on a three-node
// JetStream cluster, replicas 3) share the work while HMS clients post
// thousands of appointment changes to either of them; mid-stream one
// gateway is SIGKILLed and restarted, and so is one NATS node. Every
// acknowledged change reaches the EHR, in order per appointment, one
// Appointment per appointment (no duplicates), and both gateways
// delivered a share — the restarted one too, after its restart.
func TestScaleOutJetStream(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the liaison binary and a NATS cluster; skipped with -short")
	}
	began := time.Now()
	bin := buildLiaison(t)
	cluster := natstest.StartCluster(t, 3)
	ehr := fhirserver.Start(t)
	t.Logf("built liaison and started 3 NATS nodes in %v", time.Since(began).Round(time.Millisecond))

	dir := t.TempDir()
	config := filepath.Join(dir, "liaison.yaml")
	if err := os.WriteFile(config, []byte("store:\n  url: "+cluster.URLs()+"\n  replicas: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	key := "LIAISON_SECRET_KEY=" + base64.StdEncoding.EncodeToString(testSecretKey)
	gws := make([]*crashGateway, 2)
	for i := range gws {
		gws[i] = &crashGateway{t: t, bin: bin, addr: freeAddr(t), data: t.TempDir(), logPath: filepath.Join(dir, fmt.Sprintf("liaison-%d.log", i)),
			args: []string{"--config", config}, env: []string{key}}
		gws[i].launch()
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: crashClients}}
	t.Cleanup(client.CloseIdleConnections)

	// Registered through the first gateway, the connector runs on both.
	connID := registerEHR(t, client, gws[0], ehr.URL(), map[string]any{"timeout": "2s"})
	waitConnected(t, client, gws[1], connID)

	// Post to both while a killer SIGKILLs and restarts the second gateway,
	// then one NATS node.
	ctx, cancel := context.WithTimeout(t.Context(), crashPosting)
	defer cancel()
	attempts := make([]map[string][]crashAttempt, crashClients)
	var acked, failed atomic.Int64
	var clients sync.WaitGroup
	for c := range crashClients {
		attempts[c] = map[string][]crashAttempt{}
		clients.Go(func() { postChanges(ctx, t, client, gws, c, attempts[c], &acked, &failed) })
	}
	clientsDone := make(chan struct{})
	go func() { clients.Wait(); close(clientsDone) }()
	total := int64(crashKeys * crashRounds)
	waitAcked := func(share float64) bool {
		at := int64(float64(total) * share)
		for acked.Load() < at {
			select {
			case <-clientsDone:
				return false
			case <-time.After(2 * time.Millisecond):
			}
		}
		time.Sleep(rand.N(20 * time.Millisecond))
		return true
	}
	var beforeKill float64
	var killed []string
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		if !waitAcked(0.25) {
			return
		}
		beforeKill = deliveries(t, client, gws[1])
		gws[1].kill()
		killed = append(killed, "gateway 2")
		time.Sleep(200 * time.Millisecond) // its partitions move to the first gateway
		if err := gws[1].start(); err != nil {
			t.Errorf("restart gateway 2: %v", err)
			cancel()
			return
		}
		if !waitAcked(0.6) {
			return
		}
		node := rand.N(3)
		cluster.Kill(node)
		killed = append(killed, "NATS node "+cluster.Name(node))
		time.Sleep(time.Second)
		cluster.Start(node)
	}()
	<-clientsDone
	<-killerDone
	if t.Failed() {
		t.FailNow()
	}
	if len(killed) != 2 {
		t.Fatalf("killed only %v while posting", killed)
	}
	t.Logf("posted %d changes to %d appointments through 2 gateways: %d acknowledged, %d attempts unanswered or refused; SIGKILLed %v",
		acked.Load()+failed.Load(), crashKeys, acked.Load(), failed.Load(), killed)

	// Counts come from the engine: either gateway sees the same.
	drainStart := time.Now()
	loggedAt := drainStart
	for {
		var view map[string]any
		code, err := crashCall(client, "GET", gws[rand.N(2)].url()+"/api/external-connectors/"+connID, nil, &view)
		if err == nil && code == http.StatusOK && view["queued"] == float64(0) && view["failed"] == float64(0) {
			if view["dead"] != float64(0) {
				t.Errorf("%v dead messages", view["dead"])
			}
			t.Logf("drained in %v: delivered %v", time.Since(drainStart).Round(time.Millisecond), view["delivered"])
			break
		}
		if time.Since(loggedAt) > 5*time.Second {
			t.Logf("draining, after %v: delivered %v, queued %v, failed %v", time.Since(drainStart).Round(time.Second), view["delivered"], view["queued"], view["failed"])
			loggedAt = time.Now()
		}
		if time.Since(drainStart) > crashDrain {
			t.Fatalf("not drained after %v: %d %v %v", crashDrain, code, err, view)
		}
		time.Sleep(100 * time.Millisecond)
	}

	byKey := map[string][]crashAttempt{}
	for _, m := range attempts {
		for k, a := range m {
			byKey[k] = a
		}
	}
	checkDownstream(t, ehr, byKey)
	first, second := deliveries(t, client, gws[0]), deliveries(t, client, gws[1])
	t.Logf("deliveries: gateway 1 %v; gateway 2 %v before its kill and %v after its restart", first, beforeKill, second)
	if first == 0 || beforeKill == 0 || second == 0 {
		t.Errorf("both gateways should deliver, the restarted one too: %v, %v before the kill, %v after", first, beforeKill, second)
	}
	t.Logf("total %v", time.Since(began).Round(time.Millisecond))
}

// waitConnected waits up to 10s until the gateway runs the connector.
func waitConnected(t *testing.T, client *http.Client, gw *crashGateway, id string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var view map[string]any
		code, err := crashCall(client, "GET", gw.url()+"/api/external-connectors/"+id, nil, &view)
		if err == nil && code == http.StatusOK && view["status"] == "connected" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("connector %s not running on %s after 10s: %d %v %v", id, gw.addr, code, err, view)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deliveries is the number of successful delivery attempts a gateway
// process made, from its /metrics.
func deliveries(t *testing.T, client *http.Client, gw *crashGateway) float64 {
	res, err := client.Get(gw.url() + "/metrics")
	if err != nil {
		t.Errorf("metrics: %v", err)
		return 0
	}
	defer res.Body.Close()
	var n float64
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "liaison_delivery_attempts_total{") && strings.Contains(line, `result="delivered"`) {
			v, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			n += v
		}
	}
	return n
}
