package fhir

import (
	"encoding/json"
	"math"
)

// Hand-written checkers for the values of the R4 primitive types.
//
// matchesFormat(k, s) accepts exactly the strings that the R4 regular
// expression of the type (primitiveDef.regex, anchored as ^(?:…)$ and read
// with Go's regexp syntax, where \s is [\t\n\f\r ] and \S its complement)
// accepts; TestPrimitiveFormatsAgreeWithRegex and FuzzPrimitiveFormats hold
// them to that. They run on every primitive of every resource, so they use
// no regexp and allocate nothing.
//
// The rules the regular expressions cannot say live apart, in
// primitiveRange: calendar dates that exist (hl7.org/fhir/R4/datatypes.html:
// "dates SHALL be valid dates") and the 32-bit range of integer,
// positiveInt and unsignedInt.

// primKind names one R4 primitive type for the checkers.
type primKind uint8

const (
	primNone primKind = iota
	primBase64Binary
	primBoolean
	primCanonical
	primCode
	primDate
	primDateTime
	primDecimal
	primID
	primInstant
	primInteger
	primMarkdown
	primOID
	primPositiveInt
	primString
	primTime
	primUnsignedInt
	primURI
	primURL
	primUUID
	primXHTML
)

// primKindOf returns the kind of a primitive type code, primNone when the
// code names no primitive.
func primKindOf(typ string) primKind {
	switch typ {
	case "base64Binary":
		return primBase64Binary
	case "boolean":
		return primBoolean
	case "canonical":
		return primCanonical
	case "code":
		return primCode
	case "date":
		return primDate
	case "dateTime":
		return primDateTime
	case "decimal":
		return primDecimal
	case "id":
		return primID
	case "instant":
		return primInstant
	case "integer":
		return primInteger
	case "markdown":
		return primMarkdown
	case "oid":
		return primOID
	case "positiveInt":
		return primPositiveInt
	case "string":
		return primString
	case "time":
		return primTime
	case "unsignedInt":
		return primUnsignedInt
	case "uri":
		return primURI
	case "url":
		return primURL
	case "uuid":
		return primUUID
	case "xhtml":
		return primXHTML
	}
	return primNone
}

// jsonKind tells how the primitive is written in JSON
// (hl7.org/fhir/R4/json.html#primitive).
func (k primKind) jsonKind() jsonKind {
	switch k {
	case primBoolean:
		return jsonBool
	case primDecimal, primInteger, primPositiveInt, primUnsignedInt:
		return jsonNumber
	}
	return jsonString
}

// matchInteger tells whether the kind is one of the 32-bit integer types.
func (k primKind) isWholeNumber() bool {
	return k == primInteger || k == primPositiveInt || k == primUnsignedInt
}

// formatHint says what a value of the kind looks like, for diagnostics.
func (k primKind) formatHint() string {
	switch k {
	case primBase64Binary:
		return "base64 characters (A-Z, a-z, 0-9, +, /, =) in groups of four"
	case primBoolean:
		return "true or false"
	case primCanonical, primURI, primURL:
		return "a URI without whitespace"
	case primCode:
		return "non-whitespace characters, single spaces between words, no leading or trailing whitespace"
	case primDate:
		return "YYYY, YYYY-MM or YYYY-MM-DD"
	case primDateTime:
		return "YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss[.fff] with a time zone (Z or ±hh:mm)"
	case primDecimal:
		return "a decimal number"
	case primID:
		return "1 to 64 characters from A-Z, a-z, 0-9, '-' and '.'"
	case primInstant:
		return "YYYY-MM-DDThh:mm:ss[.fff] with a time zone (Z or ±hh:mm)"
	case primInteger:
		return "a whole number from -2147483648 to 2147483647"
	case primMarkdown, primString:
		return "a non-empty string without form feeds"
	case primOID:
		return "urn:oid: followed by a dotted OID"
	case primPositiveInt:
		return "a whole number from 1 to 2147483647"
	case primTime:
		return "hh:mm:ss[.fff]"
	case primUnsignedInt:
		return "a whole number from 0 to 2147483647"
	case primUUID:
		return "urn:uuid: followed by a lower-case UUID"
	case primXHTML:
		return "an XHTML <div> element"
	}
	return "a valid value"
}

// matchesFormat tells whether s matches the R4 regular expression of the
// kind. Kinds without a regular expression (xhtml) accept everything.
func matchesFormat(k primKind, s string) bool {
	switch k {
	case primBase64Binary:
		return matchBase64(s)
	case primBoolean:
		return s == "true" || s == "false"
	case primCanonical, primURI, primURL:
		return matchURI(s)
	case primCode:
		return matchCode(s)
	case primDate:
		return matchDate(s)
	case primDateTime:
		return matchDateTime(s)
	case primDecimal:
		return matchDecimal(s)
	case primID:
		return matchID(s)
	case primInstant:
		return matchInstant(s)
	case primInteger:
		return matchInteger(s)
	case primMarkdown, primString:
		return matchString(s)
	case primOID:
		return matchOID(s)
	case primPositiveInt:
		return matchPositiveInt(s)
	case primTime:
		return matchTime(s)
	case primUnsignedInt:
		return matchUnsignedInt(s)
	case primUUID:
		return matchUUID(s)
	}
	return true
}

// reSpace is \s of Go's regexp: [\t\n\f\r ]. Every other byte, including
// the bytes of multi-byte and invalid UTF-8 sequences, is \S.
func reSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}

func reDigit(c byte) bool { return c >= '0' && c <= '9' }

// matchURI: \S*
func matchURI(s string) bool {
	for i := 0; i < len(s); i++ {
		if reSpace(s[i]) {
			return false
		}
	}
	return true
}

// matchString: [ \r\n\t\S]+ — anything but a form feed, at least one byte.
func matchString(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == '\f' {
			return false
		}
	}
	return true
}

// matchCode: [^\s]+(\s[^\s]+)* — words split by single whitespace characters.
func matchCode(s string) bool {
	if s == "" || reSpace(s[0]) || reSpace(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if reSpace(s[i]) && reSpace(s[i-1]) {
			return false
		}
	}
	return true
}

// matchID: [A-Za-z0-9\-\.]{1,64}
func matchID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || reDigit(c) || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// matchBase64: (\s*([0-9a-zA-Z\+/=]){4}\s*)+ — groups of four alphabet
// characters, whitespace only between groups.
func matchBase64(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || reDigit(c) || c == '+' || c == '/' || c == '=':
			n++
		case reSpace(c):
			if n%4 != 0 {
				return false
			}
		default:
			return false
		}
	}
	return n > 0 && n%4 == 0
}

// matchOID: urn:oid:[0-2](\.(0|[1-9][0-9]*))+
func matchOID(s string) bool {
	const prefix = "urn:oid:"
	if len(s) < len(prefix)+3 || s[:len(prefix)] != prefix {
		return false
	}
	s = s[len(prefix):]
	if s[0] < '0' || s[0] > '2' {
		return false
	}
	i, arcs := 1, 0
	for i < len(s) {
		if s[i] != '.' {
			return false
		}
		i++
		start := i
		for i < len(s) && reDigit(s[i]) {
			i++
		}
		if i == start || (s[start] == '0' && i-start > 1) {
			return false
		}
		arcs++
	}
	return arcs > 0
}

// matchUUID: urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}
func matchUUID(s string) bool {
	const prefix = "urn:uuid:"
	if len(s) != len(prefix)+36 || s[:len(prefix)] != prefix {
		return false
	}
	s = s[len(prefix):]
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(reDigit(c) || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// reDigits returns how many ASCII digits s holds from i on.
func reDigits(s string, i int) int {
	n := 0
	for i+n < len(s) && reDigit(s[i+n]) {
		n++
	}
	return n
}

// matchDecimal: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func matchDecimal(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	n := reDigits(s, i)
	if n == 0 || (n > 1 && s[i] == '0') {
		return false
	}
	i += n
	if i < len(s) && s[i] == '.' {
		i++
		n = reDigits(s, i)
		if n == 0 {
			return false
		}
		i += n
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		n = reDigits(s, i)
		if n == 0 {
			return false
		}
		i += n
	}
	return i == len(s)
}

// matchInteger: -?([0]|([1-9][0-9]*))
func matchInteger(s string) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	return matchUnsignedInt(s)
}

// matchUnsignedInt: [0]|([1-9][0-9]*)
func matchUnsignedInt(s string) bool {
	return s == "0" || matchPositiveInt(s)
}

// matchPositiveInt: [1-9][0-9]*
func matchPositiveInt(s string) bool {
	return len(s) > 0 && s[0] >= '1' && s[0] <= '9' && reDigits(s, 0) == len(s)
}

// The date and time grammar, shared by date, dateTime, instant and time.

// dtYear: ([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000) — four digits, not 0000.
func dtYear(s string) int {
	if len(s) < 4 || reDigits(s[:4], 0) != 4 || s[:4] == "0000" {
		return -1
	}
	return 4
}

// dtTwoDigits: two digits from lo to hi at s[i:].
func dtTwoDigits(s string, i int, lo, hi int) bool {
	if i+2 > len(s) || !reDigit(s[i]) || !reDigit(s[i+1]) {
		return false
	}
	v := int(s[i]-'0')*10 + int(s[i+1]-'0')
	return v >= lo && v <= hi
}

// dtMonth: -(0[1-9]|1[0-2]) at s[i:], 3 bytes.
func dtMonth(s string, i int) bool {
	return i < len(s) && s[i] == '-' && dtTwoDigits(s, i+1, 1, 12)
}

// dtDay: -(0[1-9]|[1-2][0-9]|3[0-1]) at s[i:], 3 bytes.
func dtDay(s string, i int) bool {
	return i < len(s) && s[i] == '-' && dtTwoDigits(s, i+1, 1, 31)
}

// dtTime: ([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)? at s[i:]; returns the end or -1.
func dtTime(s string, i int) int {
	if !dtTwoDigits(s, i, 0, 23) || i+2 >= len(s) || s[i+2] != ':' ||
		!dtTwoDigits(s, i+3, 0, 59) || i+5 >= len(s) || s[i+5] != ':' ||
		!dtTwoDigits(s, i+6, 0, 60) {
		return -1
	}
	i += 8
	if i < len(s) && s[i] == '.' {
		n := reDigits(s, i+1)
		if n == 0 {
			return -1
		}
		i += 1 + n
	}
	return i
}

// dtZone: (Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)) as all of s[i:].
func dtZone(s string, i int) bool {
	rest := s[i:]
	if rest == "Z" {
		return true
	}
	if len(rest) != 6 || (rest[0] != '+' && rest[0] != '-') || rest[3] != ':' {
		return false
	}
	if rest[1:] == "14:00" {
		return true
	}
	return dtTwoDigits(rest, 1, 0, 13) && dtTwoDigits(rest, 4, 0, 59)
}

// matchDate: YYYY(-MM(-DD)?)?
func matchDate(s string) bool {
	if dtYear(s) < 0 {
		return false
	}
	switch len(s) {
	case 4:
		return true
	case 7:
		return dtMonth(s, 4)
	case 10:
		return dtMonth(s, 4) && dtDay(s, 7)
	}
	return false
}

// matchDateTime: YYYY(-MM(-DD(Thh:mm:ss(.f+)?zone)?)?)?
func matchDateTime(s string) bool {
	if len(s) <= 10 {
		return matchDate(s)
	}
	if !matchDate(s[:10]) || s[10] != 'T' {
		return false
	}
	end := dtTime(s, 11)
	return end > 0 && end < len(s) && dtZone(s, end)
}

// matchInstant: YYYY-MM-DDThh:mm:ss(.f+)?zone
func matchInstant(s string) bool {
	return len(s) > 10 && matchDateTime(s)
}

// matchTime: hh:mm:ss(.f+)?
func matchTime(s string) bool {
	return dtTime(s, 0) == len(s)
}

// dtValidDay tells whether the day of a date that matched its regular
// expression exists: the regular expression allows 31 in every month.
func dtValidDay(s string) bool {
	if len(s) < 10 {
		return true
	}
	year := int(s[0]-'0')*1000 + int(s[1]-'0')*100 + int(s[2]-'0')*10 + int(s[3]-'0')
	month := int(s[5]-'0')*10 + int(s[6]-'0')
	day := int(s[8]-'0')*10 + int(s[9]-'0')
	return day <= dtDaysIn(year, month)
}

func dtDaysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// primitiveRange checks what the regular expression of a string that
// matched it cannot: that a date exists and that an integer fits 32 bits.
// It returns a diagnostic, or "" when the value is fine.
func primitiveRange(k primKind, s string) string {
	switch k {
	case primDate, primDateTime, primInstant:
		if !dtValidDay(s) {
			return "no such day in that month"
		}
	case primInteger, primPositiveInt, primUnsignedInt:
		if !primFitsInt32(s) {
			return "out of range: " + k.formatHint()
		}
	}
	return ""
}

// primFitsInt32 tells whether a string matching -?[0-9]+ fits an int32.
func primFitsInt32(s string) bool {
	neg := false
	if s != "" && s[0] == '-' {
		neg, s = true, s[1:]
	}
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	if len(s) > 10 {
		return false
	}
	var v int64
	for i := 0; i < len(s); i++ {
		v = v*10 + int64(s[i]-'0')
	}
	if neg {
		return -v >= math.MinInt32
	}
	return v <= math.MaxInt32
}

// primCheckNumber checks a number of a numeric primitive kind, as decoded
// (json.Number) or as built by other code (float64, float32, any int).
// It returns the issue code and diagnostic, or "" when the number is fine;
// ok is false when v is not a number at all.
func primCheckNumber(k primKind, v any) (code IssueType, diag string, ok bool) {
	var (
		f       float64
		isInt   bool
		i       int64
		isFloat bool
	)
	switch n := v.(type) {
	case json.Number:
		s := string(n)
		if !matchesFormat(k, s) {
			if k != primDecimal && matchDecimal(s) {
				return IssueValue, "not a whole number: expected " + k.formatHint(), true
			}
			return IssueValue, "invalid " + k.name() + ": expected " + k.formatHint(), true
		}
		if d := primitiveRange(k, s); d != "" {
			return IssueValue, d, true
		}
		return "", "", true
	case float64:
		f, isFloat = n, true
	case float32:
		f, isFloat = float64(n), true
	case int:
		i, isInt = int64(n), true
	case int8:
		i, isInt = int64(n), true
	case int16:
		i, isInt = int64(n), true
	case int32:
		i, isInt = int64(n), true
	case int64:
		i, isInt = n, true
	case uint:
		if uint64(n) > math.MaxInt64 {
			i = math.MaxInt64
		} else {
			i = int64(n)
		}
		isInt = true
	case uint8:
		i, isInt = int64(n), true
	case uint16:
		i, isInt = int64(n), true
	case uint32:
		i, isInt = int64(n), true
	case uint64:
		if n > math.MaxInt64 {
			i = math.MaxInt64
		} else {
			i = int64(n)
		}
		isInt = true
	default:
		return "", "", false
	}
	if isFloat {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return IssueValue, "not a finite number: expected " + k.formatHint(), true
		}
		if k == primDecimal {
			return "", "", true
		}
		if f != math.Trunc(f) {
			return IssueValue, "not a whole number: expected " + k.formatHint(), true
		}
		if f < math.MinInt32 || f > math.MaxInt32 {
			return IssueValue, "out of range: " + k.formatHint(), true
		}
		i, isInt = int64(f), true
	}
	if isInt && k != primDecimal {
		lo := int64(math.MinInt32)
		switch k {
		case primPositiveInt:
			lo = 1
		case primUnsignedInt:
			lo = 0
		}
		if i < lo || i > math.MaxInt32 {
			return IssueValue, "out of range: " + k.formatHint(), true
		}
	}
	return "", "", true
}

// name returns the R4 type code of the kind.
func (k primKind) name() string {
	if int(k) < len(primNames) {
		return primNames[k]
	}
	return ""
}

var primNames = [...]string{
	primNone:         "",
	primBase64Binary: "base64Binary",
	primBoolean:      "boolean",
	primCanonical:    "canonical",
	primCode:         "code",
	primDate:         "date",
	primDateTime:     "dateTime",
	primDecimal:      "decimal",
	primID:           "id",
	primInstant:      "instant",
	primInteger:      "integer",
	primMarkdown:     "markdown",
	primOID:          "oid",
	primPositiveInt:  "positiveInt",
	primString:       "string",
	primTime:         "time",
	primUnsignedInt:  "unsignedInt",
	primURI:          "uri",
	primURL:          "url",
	primUUID:         "uuid",
	primXHTML:        "xhtml",
}
