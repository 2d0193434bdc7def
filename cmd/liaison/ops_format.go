package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// How the operator commands show things to people: aligned tables,
// counts with thousands separators, ages and durations in at most two
// units ("3m ago", "2h 5m").

// noValue is what a table cell shows for a missing value.
const noValue = "-"

// newTable returns a writer that aligns tab-separated cells into columns
// two spaces apart; Flush writes them.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// tableRow writes one table row of cells, each made safe by tableCell.
func tableRow(w io.Writer, cells ...string) {
	for i, c := range cells {
		cells[i] = tableCell(c)
	}
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}

// tableCell is text made fit for one table cell: on one line, no tabs, "-" for "".
func tableCell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return noValue
	}
	return s
}

// shorten is s on one line, cut to at most n characters with "…", at the
// end of a word when one ends near the cut.
func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	cut := string([]rune(s)[:n])
	if i := strings.LastIndexByte(cut, ' '); i > 0 && utf8.RuneCountInString(cut[i:]) <= 16 {
		return cut[:i] + "…"
	}
	return string([]rune(cut)[:n-1]) + "…"
}

// thousands is n with thousands separators: 1,234,567.
func thousands[T int | uint64](n T) string {
	if n < 0 {
		return "-" + thousands(-n)
	}
	s := strconv.FormatUint(uint64(n), 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// humanSpan is a duration for people, in its two largest units, rounded down:
// "45s", "3m", "3m 20s", "2h 5m", "3d 4h"; "0s" under a second.
func humanSpan(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	units := []struct {
		name string
		size time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}}
	for i, u := range units {
		if d < u.size && u.name != "s" {
			continue
		}
		n := d / u.size
		out := fmt.Sprintf("%d%s", n, u.name)
		if i+1 < len(units) {
			next := units[i+1]
			if m := (d - n*u.size) / next.size; m > 0 {
				out += fmt.Sprintf(" %d%s", m, next.name)
			}
		}
		return out
	}
	return "0s"
}

// humanAgo is how long before now t was: "3m ago", "just now", "in 5s" for a
// time to come, "-" for the zero time.
func humanAgo(t, now time.Time) string {
	switch d := now.Sub(t); {
	case t.IsZero():
		return noValue
	case d < -time.Second:
		return "in " + humanSpan(-d)
	case d < time.Second:
		return "just now"
	default:
		return humanSpan(d) + " ago"
	}
}

// humanLatency is an attempt's duration: "85ms", "1.2s", "2m 3s".
func humanLatency(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return humanSpan(d)
}

// humanSize is a number of bytes for people: "512 B", "1.2 kB", "3.4 MB".
func humanSize(n int) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f kB", float64(n)/1000)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1000/1000)
}
