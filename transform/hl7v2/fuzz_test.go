package hl7v2

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzParse: Parse never panics, and whatever it accepts survives
// Encode → Parse unchanged; Encode's own output is a fixed point.
func FuzzParse(f *testing.F) {
	for _, tt := range testMessages {
		f.Add(readTestdata(f, tt.name))
	}
	for _, s := range []string{
		"MSH|^~\\&", "MSH|^~\\&#|\rNTE|1||\\P\\#", "FHS|^~\\&\rBHS|^~\\&\rMSH|^~\\&\rBTS|0\rFTS|0",
		"MSH|^~\\&\rPID|a~b^c&d|^&|~", "MSH!@#$%!x\rPID!a#b@c%d", "MSH|^~\\&\rOBX|1||\\\\X\\E\\\\H\\\\.br\\\\Zx\\\\X0D0A\\",
		"MSH|^~.&\rNTE|..br.|.E.|.H.", "\n\nMSH|^~\\&\r\n\r\nPID\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, p, err := parse(data)
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		if p.overflow != 0 {
			t.Fatalf("countElements undercounted: %d slab misses", p.overflow)
		}
		out := Encode(m)
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("parse of our own output: %v\nin:  %q\nout: %q", err, data, out)
		}
		if !reflect.DeepEqual(m, again) {
			t.Fatalf("round trip changed the message\nin:  %q\nout: %q", data, out)
		}
		if out2 := Encode(again); !bytes.Equal(out, out2) {
			t.Fatalf("Encode is not stable\nfirst:  %q\nsecond: %q", out, out2)
		}
		m.Map()
		for _, p := range []string{"MSH.9.1", "PID.3.1", "OBX[2].5", "MSH.2"} {
			m.Get(p)
			m.GetAll(p)
		}
	})
}

// FuzzPath: ParsePath never panics and its String parses back to the same
// Path; Get, GetAll and Set never panic; a value Set is what Get returns,
// before and after an Encode → Parse round trip.
func FuzzPath(f *testing.F) {
	for _, s := range []string{
		"PID.5.1", "PID-5-1", "PID-5.1", "PID.3[2].1", "OBX[2].5", "MSH.9.2", "MSH.1", "MSH.2",
		"PID.3[2].4.2", "ZZ9.99999", "OBX[99].1", "PID", "pid.5", "PID.0", "PID.5[", "PID.05", "PID.5.1.1.1",
	} {
		f.Add(s, "value")
	}
	f.Add("NTE.3", "a|b^c&d~e\\f\r\n\\H\\ \\.br\\ \\Zx\\")
	f.Add("OBX[3].5[2].1.2", "")
	base := readTestdata(f, "adt_a04")
	f.Fuzz(func(t *testing.T, s, v string) {
		p, err := ParsePath(s)
		if err != nil {
			if _, ok := err.(*PathError); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		if q, err := ParsePath(p.String()); err != nil || q != p {
			t.Fatalf("ParsePath(%q) = %+v, %v; want %+v", p.String(), q, err, p)
		}
		m, err := Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		m.Get(s)
		m.GetAll(s)
		if err := m.Set(s, v); err != nil {
			if isHeader(p.Segment) && p.Field <= 2 {
				return
			}
			t.Fatalf("Set(%q): %v", s, err)
		}
		if got := m.Get(s); got != v {
			t.Fatalf("Get(%q) after Set = %q, want %q", s, got, v)
		}
		again, err := Parse(Encode(m))
		if err != nil {
			t.Fatalf("parse after Set(%q): %v", s, err)
		}
		if got := again.Get(s); got != v {
			t.Fatalf("Get(%q) after Set and a round trip = %q, want %q", s, got, v)
		}
	})
}
