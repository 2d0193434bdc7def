package gateway

import (
	"os"
	"runtime"
	"runtime/debug"
)

// gcPercent is the garbage collector's target in a gateway process
// unless GOGC says otherwise. Accepting a record allocates briefly (the
// parsed record, its mapped resource, the encodings) and keeps little:
// at 400 accepting a record took markedly less CPU than at Go's default
// of 100 (BENCHMARKS.md, "Stop 10").
const gcPercent = 400

// memoryLimit bounds the memory the Go runtime holds, unless GOMEMLIMIT
// says otherwise: near it the collector runs more often whatever
// gcPercent allows, so a burst of deliveries cannot grow the heap to five
// times what is live. It is a soft limit: the gateway does not fail at it.
// At 48 MiB, 512 clients at once kept the heap at the limit: the
// collector took 12% of the CPU and a quarter fewer records were accepted
// a second (BENCHMARKS.md, "Stop 12"); 96 MiB leaves them room and keeps
// the process well under the 150 MB that 1,000,000 queued messages may
// use.
const memoryLimit = 96 << 20

// extraProcs is how many more Ps (threads running Go code) a gateway runs
// than the machine's CPUs. The store's committer spends about a third of
// its time in fdatasync under load, and Go's runtime hands the P of a
// thread in a system call to another thread only once its monitor
// (sysmon) notices, which takes from 20 µs to 10 ms: on two CPUs one of
// the two Ps sat in fsyncs while hundreds of requests waited to run, and
// 15% of the CPU stayed idle at 256 clients. With one P more, 256 and
// 512 clients got 7–10% more records accepted a second (BENCHMARKS.md,
// "Stop 12").
const extraProcs = 1

// SetRuntimeDefaults tunes the Go runtime of the process for a gateway:
// the garbage collector (gcPercent, memoryLimit) and the number of Ps
// (extraProcs), leaving alone what GOGC, GOMEMLIMIT or GOMAXPROCS set.
// `liaison serve` calls it, and so does the load-test helper, so that
// benchmarks measure what runs.
func SetRuntimeDefaults() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	// Under a CPU limit (a container's cgroup quota, which Go already
	// follows with fewer Ps than the machine has CPUs) an extra P would
	// only run the process into the quota's throttling: left alone.
	if procs := runtime.GOMAXPROCS(0); os.Getenv("GOMAXPROCS") == "" && procs >= runtime.NumCPU() {
		runtime.GOMAXPROCS(procs + extraProcs)
	}
}
