package hl7v2

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// testMessages lists testdata/*.hl7 by name; canonical ones are written the
// way Encode writes, so they must come back byte for byte.
var testMessages = []struct {
	name      string
	canonical bool
}{
	{"adt_a04", true},
	{"siu_s12", true},
	{"vxu_v04", true},
	{"ack_aa", true},
	{"ack_ae", true},
	{"ack_ar_v231", true},
	{"custom_delims", true},
	{"batch", true},
	{"trailing_empty", true},
	{"escapes_lf", false},
	{"crlf_truncation", false},
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".hl7"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustParse(t testing.TB, data []byte) *Message {
	t.Helper()
	m, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return m
}

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestParseRoundTrip(t *testing.T) {
	for _, tt := range testMessages {
		t.Run(tt.name, func(t *testing.T) {
			data := readTestdata(t, tt.name)
			m, p, err := parse(data)
			if err != nil {
				t.Fatal(err)
			}
			if p.overflow != 0 {
				t.Errorf("countElements undercounted: %d slab misses", p.overflow)
			}
			out := Encode(m)
			if tt.canonical {
				if !bytes.Equal(out, data) {
					t.Errorf("Encode(Parse(x)) != x\ngot:  %q\nwant: %q", out, data)
				}
			} else {
				golden(t, tt.name+".hl7", out)
			}
			again := mustParse(t, out)
			if !reflect.DeepEqual(m, again) {
				t.Errorf("Parse(Encode(m)) != m")
			}
			golden(t, tt.name+".json", treeJSON(t, m.Map()))
		})
	}
}

// treeJSON writes a Map() tree as JSON, one segment per line.
func treeJSON(t *testing.T, tree map[string]any) []byte {
	t.Helper()
	names := make([]string, 0, len(tree))
	for name := range tree {
		names = append(names, name)
	}
	slices.Sort(names)
	var b bytes.Buffer
	b.WriteString("{\n")
	for i, name := range names {
		fmt.Fprintf(&b, "  %q: [\n", name)
		segs := tree[name].([]any)
		for j, seg := range segs {
			var line bytes.Buffer
			enc := json.NewEncoder(&line)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(seg); err != nil {
				t.Fatal(err)
			}
			b.WriteString("    ")
			b.Write(bytes.TrimSuffix(line.Bytes(), []byte("\n")))
			if j < len(segs)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString("  ]")
		if i < len(names)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("}\n")
	return b.Bytes()
}

func TestParseStructure(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *Message
	}{
		{
			name: "minimal header",
			in:   "MSH|^~\\&",
			want: &Message{Delims: DefaultDelimiters(), Segments: []Segment{
				{Name: "MSH", Fields: []Field{leaf("|"), leaf(`^~\&`)}},
			}},
		},
		{
			name: "header with one empty field",
			in:   "MSH|^~\\&|\r",
			want: &Message{Delims: DefaultDelimiters(), Segments: []Segment{
				{Name: "MSH", Fields: []Field{leaf("|"), leaf(`^~\&`), nil}},
			}},
		},
		{
			name: "every level and empty parts",
			in:   "MSH|^~\\&|A\rPID|a~b^c&d|^&|~\rZZ1\rZZ2|",
			want: &Message{Delims: DefaultDelimiters(), Segments: []Segment{
				{Name: "MSH", Fields: []Field{leaf("|"), leaf(`^~\&`), leaf("A")}},
				{Name: "PID", Fields: []Field{
					{{{"a"}}, {{"b"}, {"c", "d"}}},
					{{nil, {"", ""}}},
					{nil, nil},
				}},
				{Name: "ZZ1"},
				{Name: "ZZ2", Fields: []Field{nil}},
			}},
		},
		{
			name: "LF, CRLF, blank lines and extra terminators",
			in:   "\n\r\nMSH|^~\\&|A\r\n\r\nPID|1\n\nPV1|2\r\r\n",
			want: &Message{Delims: DefaultDelimiters(), Segments: []Segment{
				{Name: "MSH", Fields: []Field{leaf("|"), leaf(`^~\&`), leaf("A")}},
				{Name: "PID", Fields: []Field{leaf("1")}},
				{Name: "PV1", Fields: []Field{leaf("2")}},
			}},
		},
		{
			name: "custom delimiters",
			in:   "MSH^~|\\&^A~B\rPID^x|y~z&w^\\F\\\\S\\\\R\\",
			want: &Message{Delims: Delimiters{Field: '^', Component: '~', Repetition: '|', Escape: '\\', Subcomponent: '&'}, Segments: []Segment{
				{Name: "MSH", Fields: []Field{leaf("^"), leaf(`~|\&`), {{{"A"}, {"B"}}}}},
				{Name: "PID", Fields: []Field{{{{"x"}}, {{"y"}, {"z", "w"}}}, leaf("^~|")}},
			}},
		},
		{
			name: "truncation character",
			in:   "MSH|^~\\&#|A\rNTE|1||ab#\\P\\",
			want: &Message{Delims: Delimiters{Field: '|', Component: '^', Repetition: '~', Escape: '\\', Subcomponent: '&', Truncation: '#'}, Segments: []Segment{
				{Name: "MSH", Fields: []Field{leaf("|"), leaf(`^~\&#`), leaf("A")}},
				{Name: "NTE", Fields: []Field{leaf("1"), nil, leaf("ab##")}},
			}},
		},
		{
			name: "batch headers",
			in:   "FHS|^~\\&\rBHS|^~\\&|B\rMSH|^~\\&\rBTS\rFTS",
			want: &Message{Delims: DefaultDelimiters(), Segments: []Segment{
				{Name: "FHS", Fields: []Field{leaf("|"), leaf(`^~\&`)}},
				{Name: "BHS", Fields: []Field{leaf("|"), leaf(`^~\&`), leaf("B")}},
				{Name: "MSH", Fields: []Field{leaf("|"), leaf(`^~\&`)}},
				{Name: "BTS"},
				{Name: "FTS"},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := mustParse(t, []byte(tt.in))
			if !reflect.DeepEqual(m, tt.want) {
				t.Errorf("Parse(%q)\ngot:  %#v\nwant: %#v", tt.in, m, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want ParseError
	}{
		{"empty", "", ParseError{Msg: "empty message"}},
		{"only blank lines", "\r\n\r\n", ParseError{Msg: "empty message"}},
		{"not a header", "PID|1", ParseError{Segment: 1, Msg: "first segment is not MSH, FHS or BHS"}},
		{"header alone", "\nMSH", ParseError{Segment: 1, Field: 1, Offset: 4, Msg: "header has no field separator"}},
		{"letter as field separator", "MSHA^~\\&", ParseError{Segment: 1, Field: 1, Offset: 3}},
		{"three encoding characters", "MSH|^~\\|A", ParseError{Segment: 1, Field: 2, Offset: 4, Msg: "3 encoding characters, want 4 or 5"}},
		{"six encoding characters", "MSH|^~\\&#!|A", ParseError{Segment: 1, Field: 2, Offset: 4, Msg: "6 encoding characters, want 4 or 5"}},
		{"repeated encoding character", "MSH|^~\\^|A", ParseError{Segment: 1, Field: 2, Offset: 4}},
		{"encoding character is the field separator", "MSH|^~\\&|", ParseError{}}, // valid: the 5th is not read
		{"space as delimiter", "MSH|^~ &|A", ParseError{Segment: 1, Field: 2, Offset: 4}},
		{"bad segment name", "MSH|^~\\&|A\rPID|1\rpv1|2", ParseError{Segment: 3, Offset: 17, Msg: "segment name is not three upper-case letters or digits"}},
		{"long segment name", "MSH|^~\\&\r\nPIDX|1", ParseError{Segment: 2, Offset: 10}},
		{"short segment name", "MSH|^~\\&\rPI|1", ParseError{Segment: 2, Offset: 9}},
		{"later header with other encoding characters", "MSH|^~\\&\rMSH|^~\\&#", ParseError{Segment: 2, Field: 2, Offset: 13, Msg: "encoding characters differ from the first header's"}},
		{"later header with other field separator", "MSH|^~\\&\rPID|1\rMSH!^~\\&", ParseError{Segment: 3, Field: 1, Offset: 18, Msg: "field separator differs from the first header's"}},
		{"later header cut short", "MSH|^~\\&\rBHS", ParseError{Segment: 2, Field: 1, Offset: 12}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			if tt.want == (ParseError{}) {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want a *ParseError", err)
			}
			if pe.Segment != tt.want.Segment || pe.Field != tt.want.Field || pe.Offset != tt.want.Offset {
				t.Errorf("got segment %d field %d offset %d, want %d %d %d (%v)",
					pe.Segment, pe.Field, pe.Offset, tt.want.Segment, tt.want.Field, tt.want.Offset, pe)
			}
			if tt.want.Msg != "" && pe.Msg != tt.want.Msg {
				t.Errorf("got message %q, want %q", pe.Msg, tt.want.Msg)
			}
		})
	}
}

// TestParseErrorHidesContent checks that no part of a rejected message
// appears in the error text.
func TestParseErrorHidesContent(t *testing.T) {
	for _, in := range []string{
		"MSH|^~\\&|APP\rPID|1||SECRET^^^H\rsecret|x",
		"SECRETPID|1",
		"MSH|^~\\&\rMSH|SECR",
	} {
		_, err := Parse([]byte(in))
		if err == nil {
			t.Fatalf("Parse(%q) succeeded", in)
		}
		if strings.Contains(strings.ToLower(err.Error()), "secr") {
			t.Errorf("error %q quotes the message", err)
		}
	}
}

func TestParseLimits(t *testing.T) {
	t.Run("size", func(t *testing.T) {
		data := make([]byte, MaxMessageSize+1)
		_, err := Parse(data)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("got %v, want a *ParseError", err)
		}
	})
	t.Run("elements", func(t *testing.T) {
		data := append([]byte("MSH|^~\\&\rZZZ|"), bytes.Repeat([]byte("&"), MaxElements)...)
		_, err := Parse(data)
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Offset >= len(data) {
			t.Fatalf("got %v, want a *ParseError within the input", err)
		}
	})
	t.Run("at the element limit", func(t *testing.T) {
		// the header and the "ZZZ|" hold six separators: | ^ ~ & CR |
		data := append([]byte("MSH|^~\\&\rZZZ|"), bytes.Repeat([]byte("&"), MaxElements-6)...)
		if _, err := Parse(data); err != nil {
			t.Fatal(err)
		}
	})
}

// TestParseCopies checks that the message does not alias the input buffer.
func TestParseCopies(t *testing.T) {
	data := []byte("MSH|^~\\&|APP\rPID|1||ID1")
	m := mustParse(t, data)
	for i := range data {
		data[i] = 'x'
	}
	if got := m.Get("PID.3"); got != "ID1" {
		t.Errorf("PID.3 = %q after the input changed", got)
	}
}

func BenchmarkParseVXU(b *testing.B) {
	data := readTestdata(b, "vxu_v04")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeVXU(b *testing.B) {
	m := mustParse(b, readTestdata(b, "vxu_v04"))
	b.ReportAllocs()
	for b.Loop() {
		Encode(m)
	}
}

// TestConcurrentReads runs the read-only API from several goroutines, for
// the race detector.
func TestConcurrentReads(t *testing.T) {
	m := mustParse(t, readTestdata(t, "vxu_v04"))
	want := Encode(m)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if !bytes.Equal(Encode(m), want) || m.Get("RXA.5.1") != "08" || len(m.GetAll("OBX.3.1")) != 4 {
					t.Error("concurrent read gave a different answer")
					return
				}
				m.Map()
			}
		})
	}
	wg.Wait()
}

func TestEncodeEdges(t *testing.T) {
	if Encode(nil) != nil {
		t.Error("Encode(nil) is not nil")
	}
	// A hand-built header without its first two fields still gets them.
	m := &Message{Segments: []Segment{{Name: "MSH"}, {Name: "PID", Fields: []Field{leaf("1")}}}}
	if got := string(Encode(m)); got != "MSH|^~\\&\rPID|1\r" {
		t.Errorf("Encode = %q", got)
	}
	if f := m.Segments[1].Field(1); !reflect.DeepEqual(f, leaf("1")) {
		t.Errorf("Field(1) = %v", f)
	}
	if m.Segments[1].Field(0) != nil || m.Segments[1].Field(2) != nil {
		t.Error("Field out of range is not nil")
	}
}
