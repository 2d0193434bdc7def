package hl7v2

import "testing"

func TestUnescape(t *testing.T) {
	std := DefaultDelimiters()
	trunc := std
	trunc.Truncation = '#'
	bang := Delimiters{Field: '|', Component: '^', Repetition: '~', Escape: '!', Subcomponent: '&'}
	tests := []struct {
		name string
		d    Delimiters
		in   string
		want string
	}{
		{"plain", std, "Smith", "Smith"},
		{"empty", std, "", ""},
		{"delimiters", std, `a\F\b\S\c\T\d\R\e\E\f`, `a|b^c&d~e\f`},
		{"adjacent", std, `\E\\E\`, `\\`},
		{"truncation declared", trunc, `50\P\`, "50#"},
		{"truncation not declared", std, `50\P\`, `50\P\`},
		{"unescaped truncation character", trunc, "SMIT#", "SMIT#"},
		{"hex", std, `\X41\\X4243\`, "ABC"},
		{"hex lower case", std, `\X0d0a\`, "\r\n"},
		{"hex bytes", std, `\XC3A9\`, "é"},
		{"hex odd digits", std, `\X414\`, `\X414\`},
		{"hex not hex", std, `\X4G\`, `\X4G\`},
		{"hex empty", std, `\X\`, `\X\`},
		{"line break", std, `one\.br\two`, "one\ntwo"},
		{"formatting kept", std, `\.sp2\\.fi\\.nf\\.in+4\\.ti-2\\.sk3\\.ce\`, `\.sp2\\.fi\\.nf\\.in+4\\.ti-2\\.sk3\\.ce\`},
		{"highlight kept", std, `a \H\b\N\ c`, `a \H\b\N\ c`},
		{"character sets kept", std, `\C2842\\M2442\\M244241\`, `\C2842\\M2442\\M244241\`},
		{"local kept", std, `\Zcustom 1\`, `\Zcustom 1\`},
		{"unknown code is literal", std, `\Q\`, `\Q\`},
		{"unknown then real", std, `\Q\F\`, `\Q|`},
		{"empty sequence is literal", std, `a\\b`, `a\\b`},
		{"unterminated", std, `C:\temp`, `C:\temp`},
		{"lone escape at end", std, `end\`, `end\`},
		{"bad formatting is literal", std, `\.br2\\.xx\\.in-\`, `\.br2\\.xx\\.in-\`},
		{"other escape character", bang, `a!F!b!E!c\d!.br!e`, "a|b!c\\d\ne"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Unescape(tt.in, tt.d); got != tt.want {
				t.Errorf("Unescape(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestEscape(t *testing.T) {
	std := DefaultDelimiters()
	trunc := std
	trunc.Truncation = '#'
	custom := Delimiters{Field: '^', Component: '~', Repetition: '|', Escape: '\\', Subcomponent: '&'}
	dot := Delimiters{Field: '|', Component: '^', Repetition: '~', Escape: '.', Subcomponent: '&'}
	tests := []struct {
		name string
		d    Delimiters
		in   string
		want string
	}{
		{"plain", std, "Smith", "Smith"},
		{"delimiters", std, `a|b^c&d~e\f`, `a\F\b\S\c\T\d\R\e\E\f`},
		{"custom delimiters", custom, "a^b~c|d", `a\F\b\S\c\R\d`},
		{"line feed", std, "one\ntwo", `one\.br\two`},
		{"carriage return", std, "one\r\ntwo", `one\X0D\\.br\two`},
		{"kept sequences pass through", std, `\H\bold\N\ \.sp2\ \Zx\ \C2842\`, `\H\bold\N\ \.sp2\ \Zx\ \C2842\`},
		{"text that looks like a line break", std, `\.br\`, `\E\.br\E\`},
		{"text that looks like a delimiter escape", std, `\F\`, `\E\F\E\`},
		{"truncation character is not escaped", trunc, "a#b", "a#b"},
		{"UTF-8 and control bytes pass", std, "é\x00\t", "é\x00\t"},
		{"line feed when the escape character is a period", dot, "a\nb", "a.X0A.b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Escape(tt.in, tt.d)
			if got != tt.want {
				t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if back := Unescape(got, tt.d); back != tt.in {
				t.Errorf("Unescape(Escape(%q)) = %q", tt.in, back)
			}
		})
	}
}

// FuzzEscape: Unescape inverts Escape for any text and any valid delimiters.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", `a|b^c&d~e\f`, "\r\n", `\H\`, `\\H\`, `\.br\`, `\X41\`, `\Zx|\`, `\.in-4\`} {
		f.Add(s, byte('|'), byte('^'), byte('~'), byte('\\'), byte('&'), byte(0))
	}
	f.Add(`.E..br.`, byte('|'), byte('^'), byte('~'), byte('.'), byte('&'), byte('#'))
	f.Fuzz(func(t *testing.T, s string, fs, cs, rs, es, ss, tc byte) {
		d := Delimiters{Field: fs, Component: cs, Repetition: rs, Escape: es, Subcomponent: ss, Truncation: tc}
		if d.Validate() != nil {
			return
		}
		if got := Unescape(Escape(s, d), d); got != s {
			t.Fatalf("Unescape(Escape(%q)) = %q", s, got)
		}
	})
}

func TestDelimitersValidate(t *testing.T) {
	tests := []struct {
		name string
		d    Delimiters
		ok   bool
	}{
		{"default", DefaultDelimiters(), true},
		{"with truncation", Delimiters{'|', '^', '~', '\\', '&', '#'}, true},
		{"unusual but valid", Delimiters{'!', '@', '$', '%', '*', 0}, true},
		{"zero", Delimiters{}, false},
		{"letter", Delimiters{'|', 'A', '~', '\\', '&', 0}, false},
		{"digit", Delimiters{'|', '^', '1', '\\', '&', 0}, false},
		{"space", Delimiters{'|', '^', '~', ' ', '&', 0}, false},
		{"control", Delimiters{'|', '^', '~', '\\', '\r', 0}, false},
		{"non-ASCII", Delimiters{'|', '^', '~', '\\', 0xa6, 0}, false},
		{"duplicate", Delimiters{'|', '^', '~', '\\', '^', 0}, false},
		{"truncation duplicates", Delimiters{'|', '^', '~', '\\', '&', '|'}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.d.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
	if got := (Delimiters{'|', '^', '~', '\\', '&', '#'}).EncodingCharacters(); got != `^~\&#` {
		t.Errorf("EncodingCharacters() = %q", got)
	}
}
