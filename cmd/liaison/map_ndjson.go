package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/liaisonhq/liaison/transform"
)

const (
	// maxRecordLine is the longest input line --ndjson reads.
	maxRecordLine = 16 << 20
	// pendingLines is how many read lines may wait to be mapped.
	pendingLines = 256
	// progressEvery is the least time between two progress updates.
	progressEvery = 100 * time.Millisecond
)

// inputLine is one line of an --ndjson input, or the error that ended it.
type inputLine struct {
	n    int // 1-based line number
	text []byte
	err  error
}

// errorLine is the output line of a record that failed.
type errorLine struct {
	Error string `json:"error"`
	Line  int    `json:"line"`
}

// mapNDJSON maps one record per line of in to one line of s.out, in order.
// Lines are read in a goroutine, so the output is flushed whenever no read
// line is waiting: a record written into a pipeline comes out at once,
// while a file is written in large blocks.
func mapNDJSON(ctx context.Context, s *stdio, t target, in io.Reader) int {
	lines := make(chan inputLine, pendingLines)
	done := make(chan struct{})
	defer close(done) // stops the reader when mapping stops early
	go readLines(in, lines, done)

	w := bufio.NewWriterSize(s.out, 64<<10)
	p := newProgress(s)
	records, failed := 0, 0
	finish := func(code int) int {
		p.clear()
		if err := w.Flush(); err != nil {
			fmt.Fprintf(s.err, "liaison map run: write: %v\n", err)
			return exitFail
		}
		if failed > 0 {
			fmt.Fprintf(s.err, "liaison map run: %d of %d %s failed\n", failed, records, plural(records, "record", "records"))
			code = exitFail
		}
		return code
	}
	for {
		var l inputLine
		var ok bool
		select {
		case l, ok = <-lines:
		case <-ctx.Done():
			code := finish(exitFail)
			fmt.Fprintf(s.err, "liaison map run: %v after %d %s\n", ctx.Err(), records, plural(records, "record", "records"))
			return code
		}
		if !ok {
			return finish(exitOK)
		}
		if l.err != nil { // the input cannot be read further
			failed++
			records++
			encodeLine(w, errorLine{Error: l.err.Error(), Line: l.n})
			return finish(exitFail)
		}
		if len(bytes.TrimSpace(l.text)) == 0 {
			continue
		}
		records++
		out, err := t.mapLine(l.text)
		if err != nil {
			failed++
			encodeLine(w, errorLine{Error: err.Error(), Line: l.n})
		} else {
			w.Write(out)
			w.WriteByte('\n')
		}
		if len(lines) == 0 {
			if err := w.Flush(); err != nil {
				p.clear()
				fmt.Fprintf(s.err, "liaison map run: write: %v\n", err)
				return exitFail
			}
		}
		p.update(records, failed)
	}
}

// readLines sends the lines of in, then closes lines. A read error, or a
// line longer than maxRecordLine, is sent as the last line.
func readLines(in io.Reader, lines chan<- inputLine, done <-chan struct{}) {
	defer close(lines)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxRecordLine)
	n := 0
	for sc.Scan() {
		n++
		select {
		case lines <- inputLine{n: n, text: bytes.Clone(sc.Bytes())}:
		case <-done:
			return
		}
	}
	if err := sc.Err(); err != nil {
		if err == bufio.ErrTooLong {
			err = fmt.Errorf("line longer than %d MiB: the rest of the input is not read", maxRecordLine>>20)
		} else {
			err = fmt.Errorf("read: %w", err)
		}
		select {
		case lines <- inputLine{n: n + 1, err: err}:
		case <-done:
		}
	}
}

// mapLine maps the record of one --ndjson line to its output line.
func (t target) mapLine(text []byte) ([]byte, error) {
	var records []any
	trimmed := bytes.TrimSpace(text)
	switch {
	case t.m.Input == transform.FormatCSV && trimmed[0] == '{':
		var rec map[string]string
		if err := json.Unmarshal(trimmed, &rec); err != nil {
			return nil, fmt.Errorf("%w: a CSV record line is a JSON object of column names to text: %w", transform.ErrInput, err)
		}
		m := make(map[string]any, len(rec))
		for k, v := range rec {
			m[k] = v
		}
		records = []any{m}
	default:
		data := text
		if t.m.Input != transform.FormatJSON && trimmed[0] == '"' {
			var s string
			if err := json.Unmarshal(trimmed, &s); err != nil {
				return nil, fmt.Errorf("%w: json string: %w", transform.ErrInput, err)
			}
			data = []byte(s)
		}
		var err error
		if records, err = t.m.Decode(data); err != nil {
			return nil, err
		}
	}
	if len(records) != 1 {
		return nil, fmt.Errorf("%w: the line holds %d records, --ndjson takes one a line", transform.ErrInput, len(records))
	}
	out, err := t.mapRecord(records[0])
	if err != nil {
		return nil, err
	}
	return t.line(out)
}

// progress is the --ndjson progress line on standard error, drawn only
// when standard error is a terminal and standard output is not (the output
// would break the line otherwise).
type progress struct {
	w           io.Writer // nil: no progress line
	start, last time.Time
	shown       bool
}

func newProgress(s *stdio) *progress {
	if !isTerminal(s.err) || isTerminal(s.out) {
		return &progress{}
	}
	now := time.Now()
	return &progress{w: s.err, start: now, last: now} // the first line after progressEvery
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// update redraws the line, at most every progressEvery.
func (p *progress) update(records, failed int) {
	if p.w == nil {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < progressEvery {
		return
	}
	p.last = now
	rate := float64(records) / max(now.Sub(p.start).Seconds(), 1e-9)
	fmt.Fprintf(p.w, "\r\x1b[K%d %s, %.0f records/s, %d %s", records, plural(records, "record", "records"), rate, failed, plural(failed, "error", "errors"))
	p.shown = true
}

// clear erases the line.
func (p *progress) clear() {
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}
