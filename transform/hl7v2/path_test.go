package hl7v2

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	tests := []struct {
		in   string
		want Path
		str  string // String(); "" means in
	}{
		{"PID.5", Path{Segment: "PID", Field: 5}, ""},
		{"PID.5.1", Path{Segment: "PID", Field: 5, Component: 1}, ""},
		{"PID-5-1", Path{Segment: "PID", Field: 5, Component: 1}, "PID.5.1"},
		{"PID-5.1", Path{Segment: "PID", Field: 5, Component: 1}, "PID.5.1"},
		{"PID.3[2].1", Path{Segment: "PID", Field: 3, Repetition: 2, Component: 1}, ""},
		{"PID.3[2].4.2", Path{Segment: "PID", Field: 3, Repetition: 2, Component: 4, Subcomponent: 2}, ""},
		{"OBX[2].5", Path{Segment: "OBX", Occurrence: 2, Field: 5}, ""},
		{"OBX[1]-5[3]-1-2", Path{Segment: "OBX", Occurrence: 1, Field: 5, Repetition: 3, Component: 1, Subcomponent: 2}, "OBX[1].5[3].1.2"},
		{"MSH.9.2", Path{Segment: "MSH", Field: 9, Component: 2}, ""},
		{"ZX1.99999", Path{Segment: "ZX1", Field: 99999}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := ParsePath(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if p != tt.want {
				t.Errorf("got %+v, want %+v", p, tt.want)
			}
			str := tt.str
			if str == "" {
				str = tt.in
			}
			if p.String() != str {
				t.Errorf("String() = %q, want %q", p.String(), str)
			}
		})
	}
}

func TestParsePathErrors(t *testing.T) {
	tests := []struct {
		in     string
		offset int
	}{
		{"", 0},
		{"PID", 3},
		{"pid.5", 0},
		{"PI.5", 0},
		{"1ID.5", 0},
		{"PID5", 3},
		{"PID.", 4},
		{"PID.0", 4},
		{"PID.05", 4},
		{"PID.x", 4},
		{"PID.5.", 6},
		{"PID.5.1.1.1", 9},
		{"PID.5[", 6},
		{"PID.5[2", 7},
		{"PID.5[0]", 6},
		{"PID[2]", 6},
		{"PID[].5", 4},
		{"PID.5.1[2]", 7},
		{"PID.100000", 4},
		{"PID.5 ", 5},
		{"PID..5", 4},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParsePath(tt.in)
			var pe *PathError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want a *PathError", err)
			}
			if pe.Offset != tt.offset || pe.Path != tt.in {
				t.Errorf("got offset %d path %q, want %d (%v)", pe.Offset, pe.Path, tt.offset, pe)
			}
		})
	}
}

func TestGet(t *testing.T) {
	adt := mustParse(t, readTestdata(t, "adt_a04"))
	vxu := mustParse(t, readTestdata(t, "vxu_v04"))
	siu := mustParse(t, readTestdata(t, "siu_s12"))
	custom := mustParse(t, readTestdata(t, "custom_delims"))
	batch := mustParse(t, readTestdata(t, "batch"))
	tests := []struct {
		name string
		m    *Message
		path string
		want string
		ok   bool
	}{
		{"MSH-1 is the field separator", adt, "MSH.1", "|", true},
		{"MSH-2 is the encoding characters", adt, "MSH.2", `^~\&`, true},
		{"MSH-3 follows them", adt, "MSH.3", "REGADT", true},
		{"message type", adt, "MSH.9.1", "ADT", true},
		{"trigger event", adt, "MSH-9-2", "A04", true},
		{"message structure", vxu, "MSH.9.3", "VXU_V04", true},
		{"profile", vxu, "MSH.21.1", "Z22", true},
		{"family name", adt, "PID.5.1", "Everyman", true},
		{"field means its first value", adt, "PID.5", "Everyman", true},
		{"first repetition by default", adt, "PID.3.1", "100045", true},
		{"second repetition", adt, "PID.3[2].1", "999-12-3456", true},
		{"second repetition's type", adt, "PID-3[2].5", "SS", true},
		{"second name's type", adt, "PID.5[2].7", "N", true},
		{"escaped subcomponent separator", adt, "PID.11.2", "Apt 4&5", true},
		{"escaped escape character", adt, "AL1.5", `Rash\hives`, true},
		{"formatted text", adt, "NTE.3", "Patient reports \\H\\severe\\N\\ reaction.\nCarries epinephrine.", true},
		{"first OBX by default", adt, "OBX.5", "180", true},
		{"second OBX", adt, "OBX[2].5", "82.5", true},
		{"second OBX units", adt, "OBX[2].6.1", "kg", true},
		{"third OBX is absent", adt, "OBX[3].5", "", false},
		{"empty component", adt, "PID.13.1", "", false},
		{"present component after an empty one", adt, "PID.13.2", "PRN", true},
		{"absent field", adt, "PID.40", "", false},
		{"absent repetition", adt, "PID.3[3].1", "", false},
		{"absent subcomponent", adt, "PID.5.1.2", "", false},
		{"explicit first subcomponent", adt, "PID.5.1.1", "Everyman", true},
		{"absent segment", adt, "RXA.5", "", false},
		{"CVX code", vxu, "RXA.5.1", "08", true},
		{"lot number", vxu, "RXA.15", "EZ342", true},
		{"route", vxu, "RXR.1.1", "C28161", true},
		{"VIS presented date", vxu, "OBX[4].5", "20240615", true},
		{"appointment start", siu, "SCH.11.4", "20240615093000-0500", true},
		{"resource", siu, "AIL.3.2", "EXAM3", true},
		{"custom MSH-1", custom, "MSH.1", "^", true},
		{"custom MSH-2", custom, "MSH.2", `~|\&`, true},
		{"custom message type", custom, "MSH.9.2", "A08", true},
		{"custom repetition", custom, "PID.3[2].5", "SS", true},
		{"custom subcomponent", custom, "PID.5.2.2", "Jr", true},
		{"custom escapes", custom, "NTE.3", "Caret ^ and tilde ~ and pipe | and amp & in text", true},
		{"FHS-1", batch, "FHS.1", "|", true},
		{"second MSH in a batch", batch, "MSH[2].10", "M2", true},
		{"second PID in a batch", batch, "PID[2].5.1", "Two", true},
		{"malformed path", adt, "PID.x", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.m.Get(tt.path); got != tt.want {
				t.Errorf("Get(%q) = %q, want %q", tt.path, got, tt.want)
			}
			p, err := ParsePath(tt.path)
			if err != nil {
				return
			}
			if got, ok := tt.m.Value(p); got != tt.want || ok != tt.ok {
				t.Errorf("Value(%q) = %q, %v, want %q, %v", tt.path, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestGetAll(t *testing.T) {
	adt := mustParse(t, readTestdata(t, "adt_a04"))
	vxu := mustParse(t, readTestdata(t, "vxu_v04"))
	batch := mustParse(t, readTestdata(t, "batch"))
	tests := []struct {
		name string
		m    *Message
		path string
		want []string
	}{
		{"identifiers", adt, "PID.3.1", []string{"100045", "999-12-3456"}},
		{"identifier types", adt, "PID.3.5", []string{"MR", "SS"}},
		{"one repetition", adt, "PID.3[2].1", []string{"999-12-3456"}},
		{"missing component gives an empty value", adt, "PID.13.4", []string{"", "adam@example.org"}},
		{"every OBX", vxu, "OBX.3.1", []string{"64994-7", "30963-3", "69764-9", "29769-7"}},
		{"one OBX", vxu, "OBX[3].3.1", []string{"69764-9"}},
		{"one OBX's field", vxu, "OBX[3].5.2", []string{"Hepatitis B VIS"}},
		{"empty fields give nothing", vxu, "OBX.7", nil},
		{"every MSH of a batch", batch, "MSH.10", []string{"M1", "M2"}},
		{"header field", batch, "MSH.1", []string{"|", "|"}},
		{"absent segment", adt, "RXA.5", nil},
		{"malformed", adt, "RXA", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.m.GetAll(tt.path); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("GetAll(%q) = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}

// TestSetBuildsVXU builds the start of a CDC VXU^V04 from nothing and
// checks the encoded bytes.
func TestSetBuildsVXU(t *testing.T) {
	var m Message
	steps := []struct{ path, value string }{
		{"PID.1", "1"}, // before MSH: the MSH still goes first
		{"MSH.3", "MYEHR"},
		{"MSH.4.1", "1234"},
		{"MSH.4.3", "NPI"},
		{"MSH.7", "20240615101500-0500"},
		{"MSH.9.1", "VXU"},
		{"MSH.9.2", "V04"},
		{"MSH.9.3", "VXU_V04"},
		{"MSH.10", "VXU-1"},
		{"MSH.11", "P"},
		{"MSH.12", "2.5.1"},
		{"MSH.21.1", "Z22"},
		{"MSH.21.2", "CDCPHINVS"},
		{"PID.3.1", "432155"},
		{"PID.3.4", "NIST-MPI-1"},
		{"PID.3.5", "MR"},
		{"PID.3[2].1", "999-12-3456"},
		{"PID.3[2].5", "SS"},
		{"PID.5.1", "O'Brien & Sons|Ltd"},
		{"PID.5.2", "Johnny"},
		{"PID.5", "Patient"}, // the first value only: the given name stays
		{"RXA.5.1", "08"},
		{"RXA.5.2", "Hep B, adolescent or pediatric"},
		{"RXA.5.3", "CVX"},
		{"OBX.3.1", "64994-7"},
		{"OBX[2].3.1", "30963-3"},
		{"OBX[2].5.1", "VXC50"},
		{"NTE.3", "line one\nline two"},
		{"PID.11.4.2", "sub"},
	}
	for _, s := range steps {
		if err := m.Set(s.path, s.value); err != nil {
			t.Fatalf("Set(%q): %v", s.path, err)
		}
	}
	want := strings.Join([]string{
		`MSH|^~\&|MYEHR|1234^^NPI|||20240615101500-0500||VXU^V04^VXU_V04|VXU-1|P|2.5.1|||||||||Z22^CDCPHINVS`,
		`PID|1||432155^^^NIST-MPI-1^MR~999-12-3456^^^^SS||Patient^Johnny||||||^^^&sub`,
		`RXA|||||08^Hep B, adolescent or pediatric^CVX`,
		`OBX|||64994-7`,
		`OBX|||30963-3||VXC50`,
		`NTE|||line one\.br\line two`,
	}, "\r") + "\r"
	if got := string(Encode(&m)); got != want {
		t.Errorf("Encode:\n%q\nwant:\n%q", got, want)
	}
	back := mustParse(t, Encode(&m))
	for _, s := range steps {
		want := s.value
		if s.path == "PID.5.1" {
			want = "Patient"
		}
		if got := back.Get(s.path); got != want {
			t.Errorf("after a round trip, Get(%q) = %q, want %q", s.path, got, want)
		}
	}
}

func TestSetErrors(t *testing.T) {
	tests := []struct{ path, msg string }{
		{"MSH.1", "hold the delimiters"},
		{"MSH.2.1", "hold the delimiters"},
		{"BHS.1", "hold the delimiters"},
		{"PID", "expected"},
		{"PID.0", "numbers start at 1"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			var m Message
			err := m.Set(tt.path, "x")
			var pe *PathError
			if !errors.As(err, &pe) || !strings.Contains(pe.Msg, tt.msg) {
				t.Fatalf("got %v, want a *PathError about %q", err, tt.msg)
			}
			if len(m.Segments) != 0 {
				t.Errorf("a failed Set changed the message")
			}
		})
	}
	var m Message
	if err := m.SetValue(Path{Segment: "pid", Field: 1}, "x"); err == nil {
		t.Error("SetValue accepted a hand-built path with a bad segment")
	}
	if err := m.SetValue(Path{Segment: "PID"}, "x"); err == nil {
		t.Error("SetValue accepted a path without a field")
	}
}

func TestSetCreatesHeaders(t *testing.T) {
	m := Message{Delims: Delimiters{Field: '^', Component: '~', Repetition: '|', Escape: '\\', Subcomponent: '&'}}
	if err := m.Set("BHS.3", "B"); err != nil {
		t.Fatal(err)
	}
	if err := m.Set("MSH[2].3", "M2"); err != nil {
		t.Fatal(err)
	}
	want := "BHS^~|\\&^B\rMSH^~|\\&\rMSH^~|\\&^M2\r"
	if got := string(Encode(&m)); got != want {
		t.Errorf("Encode = %q, want %q", got, want)
	}
	if _, err := Parse(Encode(&m)); err != nil {
		t.Error(err)
	}
}

func TestNilMessageReads(t *testing.T) {
	var m *Message
	if m.Get("PID.5") != "" || m.GetAll("PID.5") != nil || len(m.Map()) != 0 {
		t.Error("a nil message is not empty")
	}
	if _, err := ReadAck(m); !errors.Is(err, ErrNoMSA) {
		t.Errorf("ReadAck(nil) = %v", err)
	}
	if _, err := NewAck(m, AppAccept, AckOptions{}); !errors.Is(err, ErrNoMSH) {
		t.Errorf("NewAck(nil) = %v", err)
	}
}
