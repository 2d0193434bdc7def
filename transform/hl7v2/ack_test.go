package hl7v2

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestReadAck(t *testing.T) {
	tests := []struct {
		name     string
		want     Ack
		accepted bool
	}{
		{"ack_aa", Ack{Code: AppAccept, ControlID: "VXU-20240615-0001"}, true},
		{"ack_ae", Ack{Code: AppError, ControlID: "VXU-20240615-0002", Errors: []AckError{
			{
				Location:    Path{Segment: "PID", Occurrence: 1, Field: 11, Repetition: 1, Component: 5},
				Code:        "101",
				Text:        "Required field missing",
				Severity:    "W",
				Diagnostic:  "Patient zip code is missing",
				UserMessage: "Please add the zip code",
			},
			{
				Location:    Path{Segment: "RXA", Occurrence: 1, Field: 10},
				Code:        "102",
				Text:        "Data type error",
				Severity:    "E",
				AppCode:     "5",
				AppText:     "Invalid value",
				UserMessage: "Administering provider is not recognised",
			},
		}}, false},
		{"ack_ar_v231", Ack{Code: AppReject, ControlID: "MSG555", Text: "Unknown patient", Errors: []AckError{
			{Location: Path{Segment: "PID", Occurrence: 1, Field: 3}, Code: "204", Text: "Unknown key identifier"},
		}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadAck(mustParse(t, readTestdata(t, tt.name)))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			if got.Code.Accepted() != tt.accepted || !got.Code.Valid() {
				t.Errorf("Accepted = %v, Valid = %v", got.Code.Accepted(), got.Code.Valid())
			}
		})
	}
	t.Run("not an ack", func(t *testing.T) {
		_, err := ReadAck(mustParse(t, readTestdata(t, "vxu_v04")))
		if !errors.Is(err, ErrNoMSA) {
			t.Fatalf("got %v, want ErrNoMSA", err)
		}
	})
	t.Run("location that is not a segment", func(t *testing.T) {
		a, err := ReadAck(mustParse(t, []byte("MSH|^~\\&\rMSA|AE|1\rERR||pid^x^3|207")))
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Errors) != 1 || a.Errors[0].Location != (Path{}) || a.Errors[0].Code != "207" {
			t.Errorf("got %+v", a.Errors)
		}
	})
}

func TestNewAck(t *testing.T) {
	at := time.Date(2024, 6, 15, 10, 15, 2, 0, time.FixedZone("", -5*3600))
	tests := []struct {
		name     string
		received string
		code     AckCode
		opts     AckOptions
		want     []string
	}{
		{
			name:     "accept a VXU",
			received: "vxu_v04",
			code:     AppAccept,
			opts:     AckOptions{ControlID: "ACK-0001", Time: at},
			want: []string{
				`MSH|^~\&|MIIC|MIIC|MYEHR|1234^^NPI|20240615101502-0500||ACK^V04^ACK|ACK-0001|P|2.5.1`,
				`MSA|AA|VXU-20240615-0001`,
			},
		},
		{
			name:     "error with ERR segments",
			received: "vxu_v04",
			code:     AppError,
			opts: AckOptions{ControlID: "ACK-0002", Time: at, Text: "Message processed with warnings", Errors: []AckError{
				{Location: Path{Segment: "PID", Occurrence: 1, Field: 11, Component: 5}, Code: "101", Text: "Required field missing", Severity: "W", UserMessage: "Zip code ^missing^"},
				{Code: "207", Diagnostic: "Application internal error"},
				{AppCode: "5"},
			}},
			want: []string{
				`MSH|^~\&|MIIC|MIIC|MYEHR|1234^^NPI|20240615101502-0500||ACK^V04^ACK|ACK-0002|P|2.5.1`,
				`MSA|AE|VXU-20240615-0001|Message processed with warnings`,
				`ERR||PID^1^11^^5|101^Required field missing^HL70357|W||||Zip code \S\missing\S\`,
				`ERR|||207^^HL70357|E|||Application internal error`,
				`ERR||||E|5`,
			},
		},
		{
			name:     "pre-2.5 message without structure, custom delimiters, character set",
			received: "",
			code:     AppReject,
			opts:     AckOptions{Time: at},
			want: []string{
				`MSH^~|\&^RECV^RFAC^SEND^SFAC^20240615101502-0500^^ACK~A01^ACKCTL1^T^2.3^^^^^^UNICODE UTF-8`,
				`MSA^AR^CTL1`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var received *Message
			if tt.received != "" {
				received = mustParse(t, readTestdata(t, tt.received))
			} else {
				received = mustParse(t, []byte("MSH^~|\\&^SEND^SFAC^RECV^RFAC^20240615^^ADT~A01^CTL1^T^2.3^^^^^^UNICODE UTF-8\rPID^1"))
			}
			ack, err := NewAck(received, tt.code, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Join(tt.want, "\r") + "\r"
			out := Encode(ack)
			if string(out) != want {
				t.Errorf("got\n%q\nwant\n%q", out, want)
			}
			back := mustParse(t, out)
			if !reflect.DeepEqual(back, ack) {
				t.Errorf("NewAck builds a message that Parse does not give back:\n%#v\n%#v", ack, back)
			}
			read, err := ReadAck(back)
			if err != nil {
				t.Fatal(err)
			}
			if read.Code != tt.code || read.ControlID != received.Get("MSH.10") || read.Text != tt.opts.Text || len(read.Errors) != len(tt.opts.Errors) {
				t.Errorf("ReadAck(NewAck) = %+v", read)
			}
		})
	}
}

func TestNewAckErrors(t *testing.T) {
	vxu := mustParse(t, readTestdata(t, "vxu_v04"))
	if _, err := NewAck(vxu, "OK", AckOptions{}); err == nil {
		t.Error("NewAck accepted code OK")
	}
	if _, err := NewAck(&Message{}, AppAccept, AckOptions{}); !errors.Is(err, ErrNoMSH) {
		t.Errorf("got %v, want ErrNoMSH", err)
	}
	ack, err := NewAck(vxu, CommitAccept, AckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ack.Get("MSH.10"); got != "ACKVXU-20240615-0001" {
		t.Errorf("default control ID %q", got)
	}
	if _, _, err := ParseTime(ack.Get("MSH.7"), nil); err != nil {
		t.Errorf("MSH-7 of a default-time ACK: %v", err)
	}
}
