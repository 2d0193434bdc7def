package fhir

import (
	"encoding/json"
	"math"
	"regexp"
	"strings"
	"testing"
)

// primitiveRegexps compiles the R4 regular expression of every primitive
// that has one, anchored as the spec means it: ^(?:…)$.
func primitiveRegexps(t testing.TB) map[primKind]*regexp.Regexp {
	t.Helper()
	out := map[primKind]*regexp.Regexp{}
	for i := range primitiveTable {
		p := &primitiveTable[i]
		if p.regex == "" {
			continue
		}
		k := primKindOf(p.name)
		if k == primNone {
			t.Fatalf("primitive %s has no checker", p.name)
		}
		out[k] = regexp.MustCompile(`^(?:` + p.regex + `)$`)
	}
	return out
}

// Every primitive of the model has a kind with its name and JSON kind.
func TestPrimitiveKinds(t *testing.T) {
	for i := range primitiveTable {
		p := &primitiveTable[i]
		k := primKindOf(p.name)
		if k == primNone || k.name() != p.name || k.jsonKind() != p.json {
			t.Errorf("%s: kind %d, name %q, json %v; model json %v", p.name, k, k.name(), k.jsonKind(), p.json)
		}
	}
	if len(primNames)-1 != len(primitiveTable) {
		t.Errorf("%d kinds for %d primitives", len(primNames)-1, len(primitiveTable))
	}
	if primKindOf("Quantity") != primNone || primKindOf("") != primNone {
		t.Error("a complex type has a primitive kind")
	}
}

// primitiveCases: value, whether the R4 regular expression accepts it.
var primitiveCases = map[string][]struct {
	s  string
	ok bool
}{
	"base64Binary": {
		{"YWJj", true}, {"YWJjZA==", true}, {" YWJj ", true}, {"YWJj\nZGVm", true}, {"YW Jj", false},
		{"YWJ", false}, {"", false}, {"  ", false}, {"YWJj=", false}, {"====", true}, {"ab$d", false}, {"\fYWJj\t", true},
	},
	"boolean": {{"true", true}, {"false", true}, {"True", false}, {"1", false}, {"", false}, {"true ", false}},
	"canonical": {
		{"http://hl7.org/fhir/StructureDefinition/Patient|4.0.1", true}, {"", true}, {"a b", false}, {"a\tb", false},
		{"é", true}, {"a\vb", true}, {"a\fb", false},
	},
	"code": {
		{"male", true}, {"a b", true}, {"a  b", false}, {" a", false}, {"a ", false}, {"", false}, {"a\tb", true},
		{"a\t\nb", false}, {"a\vb", true}, {"\v", true}, {"ü", true}, {"a\n", false},
	},
	"date": {
		{"2020", true}, {"2020-01", true}, {"2020-01-31", true}, {"0000", false}, {"0001", true}, {"1000", true},
		{"0100", true}, {"0010", true}, {"2020-00", false}, {"2020-13", false}, {"2020-1", false}, {"2020-01-00", false},
		{"2020-01-32", false}, {"2020-02-30", true}, {"20201", false}, {"2020-01-01T", false}, {"", false}, {"２０２０", false},
	},
	"dateTime": {
		{"2020", true}, {"2020-01", true}, {"2020-01-01", true}, {"2020-01-01T10:00:00Z", true},
		{"2020-01-01T10:00:00.123+01:00", true}, {"2020-01-01T23:59:60-14:00", true}, {"2020-01-01T23:59:60+14:30", false}, {"2020-01-01T23:59:60+14:00", true},
		{"2020-01-01T10:00:00", false}, {"2020-01-01T10:00Z", false}, {"2020-01-01T24:00:00Z", false},
		{"2020-01-01T10:00:00.Z", false}, {"2020-01-01T10:00:00+13:59", true}, {"2020-01-01T10:00:00+14:01", false},
		{"2020-01-01T10:00:00+0100", false}, {"2020-01-01 10:00:00Z", false}, {"2020-01T10:00:00Z", false},
		{"2020-01-01T10:00:00z", false}, {"2020-01-01T10:00:00+1:00", false},
	},
	"decimal": {
		{"0", true}, {"-0", true}, {"1.5", true}, {"-1.50", true}, {"1e10", true}, {"1E-10", true}, {"1.5e+3", true},
		{"01", false}, {"1.", false}, {".5", false}, {"+1", false}, {"1e", false}, {"", false}, {"-", false}, {"1.5.", false},
	},
	"id": {
		{"a", true}, {"A-Z.0-9", true}, {strings.Repeat("a", 64), true}, {strings.Repeat("a", 65), false}, {"", false},
		{"a_b", false}, {"a b", false}, {"é", false},
	},
	"instant": {
		{"2020-01-01T10:00:00Z", true}, {"2020-01-01T10:00:00.5-05:00", true}, {"2020-01-01", false},
		{"2020-01-01T10:00:00", false}, {"2020", false},
	},
	"integer": {
		{"0", true}, {"-0", true}, {"123", true}, {"-123", true}, {"01", false}, {"1.0", false}, {"1e2", false},
		{"", false}, {"-", false}, {"+1", false}, {"99999999999", true},
	},
	"markdown": {{"# a", true}, {" ", true}, {"\n", true}, {"", false}, {"a\fb", false}, {"a\vb", true}, {"\x00", true}},
	"oid": {
		{"urn:oid:1.2.3", true}, {"urn:oid:2.0", true}, {"urn:oid:1", false}, {"urn:oid:3.1", false},
		{"urn:oid:1.02", false}, {"urn:oid:1.", false}, {"urn:oid:1..2", false}, {"urn:oid:01.2", false}, {"URN:oid:1.2", false},
	},
	"positiveInt": {{"1", true}, {"10", true}, {"0", false}, {"-1", false}, {"01", false}, {"", false}},
	"string":      {{"a", true}, {" ", true}, {"\r\n\t", true}, {"", false}, {"\f", false}, {"€", true}},
	"time": {
		{"00:00:00", true}, {"23:59:60", true}, {"23:59:59.999", true}, {"24:00:00", false}, {"10:00", false},
		{"10:60:00", false}, {"10:00:61", false}, {"10:00:00.", false}, {"10:00:00Z", false},
	},
	"unsignedInt": {{"0", true}, {"1", true}, {"00", false}, {"-0", false}, {"", false}},
	"uri":         {{"urn:uuid:x", true}, {"", true}, {"http://a b", false}},
	"url":         {{"http://a", true}, {"a\nb", false}},
	"uuid": {
		{"urn:uuid:c757873d-ec9a-4326-a141-556f43239520", true}, {"urn:uuid:C757873D-EC9A-4326-A141-556F43239520", false},
		{"urn:uuid:c757873d-ec9a-4326-a141-556f4323952", false}, {"urn:uuid:c757873dxec9a-4326-a141-556f43239520", false},
		{"c757873d-ec9a-4326-a141-556f43239520", false},
	},
}

// The hand-written checkers accept exactly what the R4 regular expressions
// accept, on a table of edge cases; FuzzPrimitiveFormats goes further.
func TestPrimitiveFormatsAgreeWithRegex(t *testing.T) {
	res := primitiveRegexps(t)
	for k := range res {
		if len(primitiveCases[k.name()]) == 0 {
			t.Errorf("%s: no table cases", k.name())
		}
	}
	for typ, cases := range primitiveCases {
		k := primKindOf(typ)
		re := res[k]
		if re == nil {
			t.Fatalf("%s: no regular expression", typ)
		}
		for _, c := range cases {
			if got := matchesFormat(k, c.s); got != c.ok {
				t.Errorf("%s %q: checker says %v, want %v", typ, c.s, got, c.ok)
			}
			if got := re.MatchString(c.s); got != c.ok {
				t.Errorf("%s %q: regexp says %v, want %v (the table is wrong)", typ, c.s, got, c.ok)
			}
		}
	}
}

func TestPrimitiveRange(t *testing.T) {
	tests := []struct {
		k  primKind
		s  string
		ok bool
	}{
		{primDate, "2020-02-29", true}, {primDate, "2019-02-29", false}, {primDate, "1900-02-29", false},
		{primDate, "2000-02-29", true}, {primDate, "2020-04-31", false}, {primDate, "2020-04-30", true},
		{primDate, "2020-12-31", true}, {primDate, "2020-02", true}, {primDate, "2020", true},
		{primDateTime, "2021-06-31T00:00:00Z", false}, {primInstant, "2021-11-31T00:00:00Z", false},
		{primInteger, "2147483647", true}, {primInteger, "2147483648", false}, {primInteger, "-2147483648", true},
		{primInteger, "-2147483649", false}, {primInteger, "-0", true}, {primInteger, "99999999999999999999", false},
		{primPositiveInt, "2147483647", true}, {primPositiveInt, "2147483648", false},
		{primUnsignedInt, "2147483647", true}, {primUnsignedInt, "4294967295", false},
		{primDecimal, "1e400", true}, {primString, "x", true},
	}
	for _, tt := range tests {
		if got := primitiveRange(tt.k, tt.s) == ""; got != tt.ok {
			t.Errorf("%s %q: in range %v, want %v", tt.k.name(), tt.s, got, tt.ok)
		}
	}
}

func TestPrimitiveNumbers(t *testing.T) {
	tests := []struct {
		k    primKind
		v    any
		code IssueType // "" for a good number
		num  bool      // v is a number
	}{
		{primDecimal, json.Number("1.50"), "", true},
		{primDecimal, json.Number("1."), IssueValue, true},
		{primDecimal, 1.5, "", true},
		{primDecimal, float32(1.5), "", true},
		{primDecimal, math.NaN(), IssueValue, true},
		{primDecimal, 7, "", true},
		{primInteger, json.Number("7"), "", true},
		{primInteger, json.Number("7.0"), IssueValue, true},
		{primInteger, 7.0, "", true},
		{primInteger, 7.5, IssueValue, true},
		{primInteger, math.Inf(-1), IssueValue, true},
		{primInteger, int64(math.MinInt32), "", true},
		{primInteger, int64(math.MinInt32) - 1, IssueValue, true},
		{primInteger, uint64(math.MaxUint64), IssueValue, true},
		{primInteger, uint(5), "", true},
		{primInteger, int8(-5), "", true},
		{primPositiveInt, 0, IssueValue, true},
		{primPositiveInt, uint8(1), "", true},
		{primUnsignedInt, -1, IssueValue, true},
		{primUnsignedInt, 0.0, "", true},
		{primUnsignedInt, float64(math.MaxInt32) + 1, IssueValue, true},
		{primInteger, "7", "", false},
		{primInteger, true, "", false},
		{primInteger, nil, "", false},
	}
	for _, tt := range tests {
		code, diag, num := primCheckNumber(tt.k, tt.v)
		if code != tt.code || num != tt.num || (code != "") != (diag != "") {
			t.Errorf("%s %#v: (%q, %q, %v), want (%q, _, %v)", tt.k.name(), tt.v, code, diag, num, tt.code, tt.num)
		}
	}
}

// FuzzPrimitiveFormats holds every hand-written checker to the R4 regular
// expression of its type on arbitrary strings.
func FuzzPrimitiveFormats(f *testing.F) {
	for _, cases := range primitiveCases {
		for _, c := range cases {
			f.Add(c.s)
		}
	}
	for _, s := range []string{"urn:oid:0.0.0", "2020-01-01T00:00:00+14:00", "urn:uuid:00000000-0000-0000-0000-000000000000", "-0.0e-0", "\xff", "a\xffb", " \x85 "} {
		f.Add(s)
	}
	res := primitiveRegexps(f)
	f.Fuzz(func(t *testing.T, s string) {
		for k, re := range res {
			if got, want := matchesFormat(k, s), re.MatchString(s); got != want {
				t.Errorf("%s %q: checker says %v, regexp %v", k.name(), s, got, want)
			}
		}
	})
}

// BenchmarkPrimitiveFormats compares the checkers with the regular
// expressions they stand for.
func BenchmarkPrimitiveFormats(b *testing.B) {
	values := []struct {
		k primKind
		s string
	}{
		{primDateTime, "2015-02-07T13:28:17.239+02:00"}, {primDate, "1974-12-25"}, {primID, "example"},
		{primCode, "official"}, {primURI, "urn:oid:0.1.2.3.4.5.6.7"}, {primString, "Peter James Chalmers"},
	}
	b.Run("hand", func(b *testing.B) {
		for b.Loop() {
			for _, v := range values {
				if !matchesFormat(v.k, v.s) {
					b.Fatal(v)
				}
			}
		}
	})
	res := primitiveRegexps(b)
	b.Run("regexp", func(b *testing.B) {
		for b.Loop() {
			for _, v := range values {
				if !res[v.k].MatchString(v.s) {
					b.Fatal(v)
				}
			}
		}
	})
}
