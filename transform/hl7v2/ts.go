package hl7v2

import (
	"fmt"
	"strconv"
	"time"
)

// Precision is how much of a DTM value was given, from the year down to a
// ten-thousandth of a second.
type Precision int

// The precisions of a DTM, in the order of its grammar:
//
//	YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]
const (
	PrecisionYear             Precision = iota + 1 // YYYY
	PrecisionMonth                                 // YYYYMM
	PrecisionDay                                   // YYYYMMDD
	PrecisionHour                                  // YYYYMMDDHH
	PrecisionMinute                                // YYYYMMDDHHMM
	PrecisionSecond                                // YYYYMMDDHHMMSS
	PrecisionDecisecond                            // YYYYMMDDHHMMSS.S
	PrecisionCentisecond                           // YYYYMMDDHHMMSS.SS
	PrecisionMillisecond                           // YYYYMMDDHHMMSS.SSS
	PrecisionTenthMillisecond                      // YYYYMMDDHHMMSS.SSSS
)

var precisionNames = [...]string{"", "year", "month", "day", "hour", "minute", "second",
	"decisecond", "centisecond", "millisecond", "tenth-millisecond"}

func (p Precision) String() string {
	if p < PrecisionYear || p > PrecisionTenthMillisecond {
		return "Precision(" + strconv.Itoa(int(p)) + ")"
	}
	return precisionNames[p]
}

// ParseTime parses an HL7 v2 DTM value (also the first component of a TS)
// into the earliest instant it covers and its precision:
//
//	YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]
//
// With an offset the time is in a fixed zone of
// that offset; without one it is in loc, or UTC when loc is nil. Every part
// is range-checked (no 24:00, no leap seconds, no 30 February). Errors wrap
// ErrInvalidTime and never quote s.
func ParseTime(s string, loc *time.Location) (time.Time, Precision, error) {
	fail := func(what string) (time.Time, Precision, error) {
		return time.Time{}, 0, fmt.Errorf("%w: %s", ErrInvalidTime, what)
	}
	if loc == nil {
		loc = time.UTC
	}
	// parts: year, month, day, hour, minute, second
	var v [6]int
	v[1], v[2] = 1, 1
	i, prec := 0, Precision(0)
	for k := range v {
		w := 2
		if k == 0 {
			w = 4
		}
		if i == len(s) || s[i] == '+' || s[i] == '-' {
			if k == 0 {
				return fail("no 4-digit year")
			}
			break
		}
		if i+w > len(s) || !isDigits(s[i:i+w]) {
			return fail(fmt.Sprintf("expected %d digits for the %s", w, Precision(k+1)))
		}
		v[k], _ = strconv.Atoi(s[i : i+w])
		i += w
		prec = Precision(k + 1)
	}
	nsec := 0
	if prec == PrecisionSecond && i < len(s) && s[i] == '.' {
		j := i + 1
		for j < len(s) && j-i <= 4 && '0' <= s[j] && s[j] <= '9' {
			j++
		}
		digits := s[i+1 : j]
		if digits == "" || (j < len(s) && '0' <= s[j] && s[j] <= '9') {
			return fail("fraction of a second must have 1 to 4 digits")
		}
		frac, _ := strconv.Atoi(digits)
		for range 9 - len(digits) {
			frac *= 10
		}
		nsec, prec, i = frac, PrecisionSecond+Precision(len(digits)), j
	}
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		if len(s)-i != 5 || !isDigits(s[i+1:]) {
			return fail("offset must be +HHMM or -HHMM")
		}
		hh, _ := strconv.Atoi(s[i+1 : i+3])
		mm, _ := strconv.Atoi(s[i+3 : i+5])
		if hh > 14 || mm > 59 {
			return fail("offset out of range")
		}
		off := (hh*60 + mm) * 60
		if s[i] == '-' {
			off = -off
		}
		loc = time.FixedZone("", off)
		i = len(s)
	}
	if i != len(s) {
		return fail("unexpected character after the " + prec.String())
	}
	switch {
	case v[1] < 1 || v[1] > 12:
		return fail("month out of range")
	case v[2] < 1 || v[2] > daysIn(v[0], time.Month(v[1])):
		return fail("day out of range")
	case v[3] > 23:
		return fail("hour out of range")
	case v[4] > 59:
		return fail("minute out of range")
	case v[5] > 59:
		return fail("second out of range")
	}
	return time.Date(v[0], time.Month(v[1]), v[2], v[3], v[4], v[5], nsec, loc), prec, nil
}

func daysIn(year int, m time.Month) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// FormatTime writes t as a DTM at precision p, in t's own location. Parts
// below p are dropped, not rounded. The offset (+/-ZZZZ) is written for
// precisions of an hour or finer, where it matters; an out-of-range p means
// PrecisionSecond. The year must be within 0..9999.
func FormatTime(t time.Time, p Precision) string {
	if p < PrecisionYear || p > PrecisionTenthMillisecond {
		p = PrecisionSecond
	}
	widths := [...]int{0, 4, 6, 8, 10, 12, 14}
	b := make([]byte, 0, 24)
	b = t.AppendFormat(b, "20060102150405")
	b = b[:widths[min(p, PrecisionSecond)]]
	if p > PrecisionSecond {
		n := int(p - PrecisionSecond)
		frac := strconv.Itoa(t.Nanosecond() + 1e9)[1:] // 9 digits, zero-padded
		b = append(b, '.')
		b = append(b, frac[:n]...)
	}
	if p >= PrecisionHour {
		b = t.AppendFormat(b, "-0700")
	}
	return string(b)
}
