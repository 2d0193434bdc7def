package hl7v2

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skipf("no time zone database: %v", err)
	}
	tests := []struct {
		in   string
		loc  *time.Location
		want string // RFC 3339 with nanoseconds
		prec Precision
	}{
		{"2024", nil, "2024-01-01T00:00:00Z", PrecisionYear},
		{"202406", nil, "2024-06-01T00:00:00Z", PrecisionMonth},
		{"20240615", nil, "2024-06-15T00:00:00Z", PrecisionDay},
		{"2024061509", nil, "2024-06-15T09:00:00Z", PrecisionHour},
		{"202406150930", nil, "2024-06-15T09:30:00Z", PrecisionMinute},
		{"20240615093045", nil, "2024-06-15T09:30:45Z", PrecisionSecond},
		{"20240615093045.1", nil, "2024-06-15T09:30:45.1Z", PrecisionDecisecond},
		{"20240615093045.12", nil, "2024-06-15T09:30:45.12Z", PrecisionCentisecond},
		{"20240615093045.123", nil, "2024-06-15T09:30:45.123Z", PrecisionMillisecond},
		{"20240615093045.1234", nil, "2024-06-15T09:30:45.1234Z", PrecisionTenthMillisecond},
		{"20240615093045-0500", nil, "2024-06-15T09:30:45-05:00", PrecisionSecond},
		{"20240615093045.5+0530", nil, "2024-06-15T09:30:45.5+05:30", PrecisionDecisecond},
		{"202406150930+0000", ny, "2024-06-15T09:30:00Z", PrecisionMinute},
		{"20240615-0400", nil, "2024-06-15T00:00:00-04:00", PrecisionDay},
		{"20240615093045", ny, "2024-06-15T09:30:45-04:00", PrecisionSecond},
		{"20240115093045", ny, "2024-01-15T09:30:45-05:00", PrecisionSecond},
		{"20240229", nil, "2024-02-29T00:00:00Z", PrecisionDay},
		{"20240615235959", nil, "2024-06-15T23:59:59Z", PrecisionSecond},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, prec, err := ParseTime(tt.in, tt.loc)
			if err != nil {
				t.Fatal(err)
			}
			if s := got.Format(time.RFC3339Nano); s != tt.want {
				t.Errorf("time = %s, want %s", s, tt.want)
			}
			if prec != tt.prec {
				t.Errorf("precision = %v, want %v", prec, tt.prec)
			}
		})
	}
}

func TestParseTimeErrors(t *testing.T) {
	tests := []struct{ in, msg string }{
		{"", "no 4-digit year"},
		{"24", "expected 4 digits for the year"},
		{"2024-0500x", "offset must be"},
		{"2024061", "expected 2 digits for the day"},
		{"202413", "month out of range"},
		{"202400", "month out of range"},
		{"20230229", "day out of range"},
		{"20240431", "day out of range"},
		{"20240615240000", "hour out of range"},
		{"20240615236000", "minute out of range"},
		{"20240615235960", "second out of range"},
		{"20240615093045.", "fraction"},
		{"20240615093045.12345", "fraction"},
		{"202406150930.5", "expected 2 digits for the second"},
		{"20240615093045-05", "offset must be"},
		{"20240615093045+1500", "offset out of range"},
		{"20240615093045-0560", "offset out of range"},
		{"20240615 093045", "expected 2 digits for the hour"},
		{"20240615093045Z", "unexpected character after the second"},
		{"２０２４", "expected 4 digits for the year"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, _, err := ParseTime(tt.in, nil)
			if !errors.Is(err, ErrInvalidTime) {
				t.Fatalf("got %v, want ErrInvalidTime", err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
			if tt.in != "" && strings.Contains(err.Error(), tt.in) {
				t.Errorf("error %q quotes the value", err)
			}
		})
	}
}

func TestFormatTime(t *testing.T) {
	est := time.FixedZone("", -5*3600)
	ts := time.Date(2024, 6, 15, 9, 30, 45, 123456789, est)
	tests := []struct {
		prec Precision
		want string
	}{
		{PrecisionYear, "2024"},
		{PrecisionMonth, "202406"},
		{PrecisionDay, "20240615"},
		{PrecisionHour, "2024061509-0500"},
		{PrecisionMinute, "202406150930-0500"},
		{PrecisionSecond, "20240615093045-0500"},
		{PrecisionDecisecond, "20240615093045.1-0500"},
		{PrecisionCentisecond, "20240615093045.12-0500"},
		{PrecisionMillisecond, "20240615093045.123-0500"},
		{PrecisionTenthMillisecond, "20240615093045.1234-0500"},
		{0, "20240615093045-0500"},
		{99, "20240615093045-0500"},
	}
	for _, tt := range tests {
		t.Run(tt.prec.String(), func(t *testing.T) {
			got := FormatTime(ts, tt.prec)
			if got != tt.want {
				t.Fatalf("FormatTime = %q, want %q", got, tt.want)
			}
			back, prec, err := ParseTime(got, est)
			if err != nil {
				t.Fatal(err)
			}
			if FormatTime(back, prec) != got {
				t.Errorf("ParseTime(%q) does not format back", got)
			}
		})
	}
	if got := FormatTime(time.Date(2024, 6, 15, 9, 30, 45, 0, time.UTC), PrecisionSecond); got != "20240615093045+0000" {
		t.Errorf("UTC formats as %q", got)
	}
}
