package store

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// Released pages leave the process's resident memory and read back the same.
func TestReleaseMapped(t *testing.T) {
	s, err := Open(t.TempDir(), Options{ReleaseEvery: -1}) // released here only
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 5000; i += 500 {
		update(t, s, func(tx *Tx) error { return enqueueBatch(tx, i, 500) })
	}
	read := func() []*Message {
		var ms []*Message
		if err := s.View(func(tx *Tx) error {
			var err error
			ms, err = tx.Messages(Filter{Limit: 5000})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return ms
	}
	before := read()
	resident := rssFile(t)
	if err := s.release(); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "linux" {
		if after := rssFile(t); after > resident-2<<20 {
			t.Errorf("file pages resident: %d KiB before release, %d KiB after; want 2 MiB less", resident>>10, after>>10)
		}
	}
	after := read()
	if len(after) != 5000 || len(before) != 5000 {
		t.Fatalf("read %d then %d messages, want 5000", len(before), len(after))
	}
	for i := range after {
		if after[i].ID != before[i].ID || after[i].Body != before[i].Body || after[i].RecordID != before[i].RecordID {
			t.Fatalf("message %d differs after release: %+v, was %+v", i, after[i], before[i])
		}
	}
}

// rssFile is the process's resident file-backed memory, in bytes (0 where
// /proc is not there).
func rssFile(t *testing.T) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "RssFile:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("RssFile: %q", line)
			}
			return kb << 10
		}
	}
	return 0
}
