package gateway

import (
	"os"
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
// At 48 MiB, 256 to 512 clients at once kept the heap at the limit and the
// collector took 4–12% of the CPU (BENCHMARKS.md, "Stop 12"); 96 MiB
// leaves them room and keeps the process well under the 150 MB that
// 1,000,000 queued messages may use.
const memoryLimit = 96 << 20

// SetRuntimeDefaults tunes the garbage collector of the process for a
// gateway (gcPercent, memoryLimit), leaving alone what GOGC or GOMEMLIMIT
// set. `liaison serve` calls it, and so does the load-test helper, so that
// benchmarks measure what runs.
func SetRuntimeDefaults() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}
