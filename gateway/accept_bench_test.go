package gateway

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkAccept is POST /api/records/Appointment into one paused FHIR
// connector, through the gateway's whole handler (middleware, mapping,
// validation, the group commit, without fsync) but without a network:
// the gateway's own share of accepting a record, for profiling. Every
// request is a new appointment. Run with -cpu 2 as the machine has.
// Besides the time per request it reports the process's CPU time per
// request (cpu-µs/op, user and system): the requests wait for group
// commits, so the time per request also depends on how they queue, while
// the CPU time is what a change saves or costs.
//
//	go test ./gateway/ -run '^$' -bench Accept -benchmem -cpuprofile cpu.out
func BenchmarkAccept(b *testing.B) {
	g, err := New(Config{DataDir: b.TempDir(), AdminToken: testToken, Adapters: testAdapters(), NoSync: true},
		slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	h := g.Handler()
	call := func(method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := call("POST", "/api/external-connectors", `{"name":"EHR","type":"fhir","endpoint":"http://127.0.0.1:1/fhir","resources":["Appointment"]}`)
	if rec.Code != http.StatusCreated {
		b.Fatalf("register: %d %s", rec.Code, rec.Body)
	}
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(32) // 64 requests at a time on two cores, as wrk -c64 makes them
	b.ResetTimer()
	cpu0 := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		var body bytes.Buffer
		for pb.Next() {
			body.Reset()
			fmt.Fprintf(&body, `{"appointmentId":"B-%d","patientId":"P9","datetime":"2024-06-15 09:30","tz":"America/New_York","durationMin":15,"locationId":"LOC-1","status":"booked"}`, n.Add(1))
			req := httptest.NewRequest("POST", "/api/records/Appointment", &body)
			req.Header.Set("Authorization", "Bearer "+testToken)
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusAccepted {
				b.Fatalf("post: %d %s", rec.Code, rec.Body)
			}
		}
	})
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}

// cpuTime is the CPU time the process has used so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
