package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/liaisonhq/liaison/gateway/internal/fhirserver"
	"github.com/liaisonhq/liaison/gateway/store"
)

// TestLoadHelper is the server side of scripts/bench-gateway, which builds
// this package's test binary and runs it with LIAISON_BENCH_ROLE set to one
// of:
//
//	echo     a parse-only Echo handler on LIAISON_BENCH_ADDR: POST /echo/:type
//	         reads the body, decodes it into map[string]any and answers 202
//	sink     a local delivery sink on LIAISON_BENCH_ADDR answering 200 to everything
//	fhir     the test FHIR server (internal/fhirserver) on LIAISON_BENCH_ADDR
//	gateway  the gateway on LIAISON_BENCH_ADDR with LIAISON_BENCH_DATA, the
//	         token LIAISON_ADMIN_TOKEN, fsync off when LIAISON_BENCH_NOSYNC=1
//	fill     queues LIAISON_BENCH_N Appointment records (default 1,000,000)
//	         into LIAISON_BENCH_DATA for every connector stored there, mapped
//	         as POST /api/records/Appointment maps them, committed in large
//	         transactions without fsync; the file is synced once at the end
//
// Servers stop on SIGINT or SIGTERM, and after LIAISON_BENCH_SECONDS
// (default 600) in any case. Without LIAISON_BENCH_ROLE the test skips.
func TestLoadHelper(t *testing.T) {
	role := os.Getenv("LIAISON_BENCH_ROLE")
	if role == "" {
		t.Skip("the load-test helper of scripts/bench-gateway: set LIAISON_BENCH_ROLE to run it")
	}
	seconds, _ := strconv.Atoi(os.Getenv("LIAISON_BENCH_SECONDS"))
	if seconds <= 0 {
		seconds = 600
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds)*time.Second)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	addr := os.Getenv("LIAISON_BENCH_ADDR")
	switch role {
	case "echo":
		serveUntil(ctx, t, addr, parseOnlyEcho())
	case "sink":
		serveUntil(ctx, t, addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusOK)
		}))
	case "fhir":
		serveUntil(ctx, t, addr, fhirserver.New())
	case "gateway":
		// As `liaison serve` runs: its collector settings, its logs
		// buffered (a slog handler serializes its writes).
		SetRuntimeDefaults()
		logs := bufio.NewWriterSize(os.Stderr, 32<<10)
		defer logs.Flush()
		g, err := New(Config{
			Addr: addr, DataDir: os.Getenv("LIAISON_BENCH_DATA"), AdminToken: os.Getenv("LIAISON_ADMIN_TOKEN"),
			Adapters: testAdapters(), NoSync: os.Getenv("LIAISON_BENCH_NOSYNC") == "1",
		}, slog.New(slog.NewJSONHandler(logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		if err := g.Run(ctx); err != nil {
			t.Fatal(err)
		}
	case "fill":
		n, _ := strconv.Atoi(os.Getenv("LIAISON_BENCH_N"))
		if n <= 0 {
			n = 1_000_000
		}
		fillQueue(ctx, t, os.Getenv("LIAISON_BENCH_DATA"), n)
	default:
		t.Fatalf("LIAISON_BENCH_ROLE %q: want echo, sink, fhir, gateway or fill", role)
	}
}

// parseOnlyEcho is the baseline the accept path is compared with: an Echo
// route that reads the body and decodes it, and nothing else.
func parseOnlyEcho() http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.POST("/echo/:type", func(c echo.Context) error {
		data, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		var rec map[string]any
		if err := json.Unmarshal(data, &rec); err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "not JSON")
		}
		return c.NoContent(http.StatusAccepted)
	})
	return e
}

// serveUntil serves h on addr until ctx ends.
func serveUntil(ctx context.Context, t *testing.T, addr string, h http.Handler) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(l); err != http.ErrServerClosed {
		t.Fatal(err)
	}
}

// fillQueue queues n Appointment records for every connector stored in
// dir, as the API would (mapped, one message per connector), with ids
// Q0000000, Q0000001, … Mapping runs on every core; the store writes
// 10,000 records per transaction, without fsync, and the file is
// synced once at the end.
func fillQueue(ctx context.Context, t *testing.T, dir string, n int) {
	start := time.Now()
	g, err := New(Config{DataDir: dir, AdminToken: "fill", Adapters: testAdapters(), NoSync: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close() // again after the fill: a no-op
	if len(g.liveConnectors()) == 0 {
		t.Fatal("no connector in the data directory: register one first")
	}

	ids := make(chan int, 1024)
	changes := make(chan *store.Change, 4096)
	go func() {
		defer close(ids)
		for i := range n {
			select {
			case ids <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	var mappers sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		mappers.Go(func() {
			for i := range ids {
				id := fmt.Sprintf("Q%07d", i)
				canonical, _ := json.Marshal(map[string]any{"appointmentId": id, "patientId": "P9", "datetime": "2024-06-15 09:30",
					"tz": "America/New_York", "durationMin": json.Number("15"), "locationId": "LOC-1", "status": "booked"})
				ch := &store.Change{Type: "Appointment", ID: id, Data: canonical, Hash: contentHash(canonical), Source: sourceHMS}
				if err := g.prepareChange(ch, nil); err != nil {
					t.Error(err)
					return
				}
				changes <- ch
			}
		})
	}
	go func() { mappers.Wait(); close(changes) }()

	const perTx = 10_000
	batch := make([]*store.Change, 0, perTx)
	queued := 0
	flush := func() {
		if _, err := g.store.Accept(ctx, &store.Batch{Changes: batch}); err != nil {
			t.Fatal(err)
		}
		queued += len(batch)
		batch = batch[:0]
	}
	for ch := range changes {
		if batch = append(batch, ch); len(batch) == perTx {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, store.FileName), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("fill: %d records queued for %d connector(s) in %.1f s\n", queued, len(g.liveConnectors()), time.Since(start).Seconds())
}
