package hl7v2_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/liaisonhq/liaison/transform/hl7v2"
)

// er7 joins lines with the segment terminator.
func er7(lines ...string) []byte {
	return []byte(strings.Join(lines, "\r") + "\r")
}

func ExampleParse() {
	m, err := hl7v2.Parse(er7(
		`MSH|^~\&|REGADT|MCM|IFENG||20240615093000-0400||ADT^A04^ADT_A01|MSG00001|P|2.5.1`,
		`PID|1||100045^^^MCM^MR~999-12-3456^^^USSSA^SS||Everyman^Adam^A||19800301|M|||2222 Home St^Apt 4\T\5^Ann Arbor^MI`,
		`OBX|1|NM|8302-2^Body height^LN||180|cm`,
		`OBX|2|NM|29463-7^Body weight^LN||82.5|kg`,
	))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Get("MSH.9.1"), m.Get("MSH-9-2"))
	fmt.Println(m.Get("MSH.1"), m.Get("MSH.2"), m.Get("MSH.3"))
	fmt.Println(m.Get("PID.5.1"), m.Get("PID.5.2"))
	fmt.Println(m.Get("PID.3[2].1"), m.Get("PID.11.2"))
	fmt.Println(m.Get("OBX[2].5"), m.Get("OBX[2].6"))
	// Output:
	// ADT A04
	// | ^~\& REGADT
	// Everyman Adam
	// 999-12-3456 Apt 4&5
	// 82.5 kg
}

func ExampleParse_error() {
	_, err := hl7v2.Parse(er7(`MSH|^~\&|APP`, `PID|1||SECRET`, `pv1|1|O`))
	fmt.Println(err)
	// Output:
	// hl7v2: segment 3 (offset 27): segment name is not three upper-case letters or digits
}

func ExampleEncode() {
	m, _ := hl7v2.Parse([]byte("MSH|^~\\&|APP\nNTE|1||Line one\\.br\\Line two \\X41\\\n\n"))
	fmt.Printf("%q\n", m.Get("NTE.3"))
	fmt.Printf("%q\n", hl7v2.Encode(m))
	// Output:
	// "Line one\nLine two A"
	// "MSH|^~\\&|APP\rNTE|1||Line one\\.br\\Line two A\r"
}

func ExampleMessage_Set() {
	var m hl7v2.Message // zero Delims mean |^~\&
	m.Set("MSH.3", "MYEHR")
	m.Set("MSH.9.1", "VXU")
	m.Set("MSH.9.2", "V04")
	m.Set("MSH.9.3", "VXU_V04")
	m.Set("MSH.12", "2.5.1")
	m.Set("PID.3.1", "432155")
	m.Set("PID.3.5", "MR")
	m.Set("PID.5.1", "O'Brien & Sons")
	m.Set("RXA.5.1", "08")
	m.Set("RXA.5.3", "CVX")
	if err := m.Set("MSH.1", "!"); err != nil {
		fmt.Println(err)
	}
	fmt.Println(strings.ReplaceAll(string(hl7v2.Encode(&m)), "\r", "\n"))
	// Output:
	// hl7v2: path "MSH.1", offset 0: MSH-1 and MSH-2 hold the delimiters; set Message.Delims
	// MSH|^~\&|MYEHR||||||VXU^V04^VXU_V04|||2.5.1
	// PID|||432155^^^^MR||O'Brien \T\ Sons
	// RXA|||||08^^CVX
}

func ExampleMessage_GetAll() {
	m, _ := hl7v2.Parse(er7(
		`MSH|^~\&|APP`,
		`PID|1||100045^^^MCM^MR~999-12-3456^^^USSSA^SS`,
		`OBX|1|CE|64994-7^Vaccine funding program eligibility category^LN`,
		`OBX|2|CE|30963-3^Vaccine funding source^LN`,
	))
	fmt.Println(m.GetAll("PID.3.1"))
	fmt.Println(m.GetAll("PID.3.5"))
	fmt.Println(m.GetAll("OBX.3.1"))
	// Output:
	// [100045 999-12-3456]
	// [MR SS]
	// [64994-7 30963-3]
}

func ExampleMessage_Map() {
	m, _ := hl7v2.Parse(er7(`MSH|^~\&|APP`, `PID|1||100045^^^MCM^MR~X9||Doe^Jane&Q`))
	tree := m.Map()
	pid := tree["PID"].([]any)[0].([]any)
	fmt.Println(pid[0])              // the segment name
	fmt.Println(pid[3])              // PID-3: repetitions of components of subcomponents
	fmt.Println(pid[5].([]any)[0])   // PID-5, first repetition
	fmt.Println(len(pid[4].([]any))) // PID-4 is empty
	msh := tree["MSH"].([]any)[0].([]any)
	fmt.Println(msh[1], msh[2], msh[3])
	// Output:
	// PID
	// [[[100045] [] [] [MCM] [MR]] [[X9]]]
	// [[Doe] [Jane Q]]
	// 0
	// [[[|]]] [[[^~\&]]] [[[APP]]]
}

func ExampleParsePath() {
	for _, s := range []string{"PID-5.1", "OBX[2].5", "PID.3[2].4.2", "PID.0"} {
		p, err := hl7v2.ParsePath(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(p, p.Segment, p.Occurrence, p.Field, p.Repetition, p.Component, p.Subcomponent)
	}
	// Output:
	// PID.5.1 PID 0 5 0 1 0
	// OBX[2].5 OBX 2 5 0 0 0
	// PID.3[2].4.2 PID 0 3 2 4 2
	// hl7v2: path "PID.0", offset 4: numbers start at 1 and have no leading zeros
}

func ExampleParseTime() {
	chicago, err := time.LoadLocation("America/Chicago")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range []string{"20240615101500-0500", "20240615", "202406151015", "20240615101530.25"} {
		t, prec, err := hl7v2.ParseTime(s, chicago)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(t.Format(time.RFC3339Nano), prec)
	}
	_, _, err = hl7v2.ParseTime("20240230", nil)
	fmt.Println(err)
	// Output:
	// 2024-06-15T10:15:00-05:00 second
	// 2024-06-15T00:00:00-05:00 day
	// 2024-06-15T10:15:00-05:00 minute
	// 2024-06-15T10:15:30.25-05:00 centisecond
	// hl7v2: invalid DTM value: day out of range
}

func ExampleFormatTime() {
	t := time.Date(2024, 6, 15, 10, 15, 30, 250_000_000, time.FixedZone("", -5*3600))
	fmt.Println(hl7v2.FormatTime(t, hl7v2.PrecisionDay))
	fmt.Println(hl7v2.FormatTime(t, hl7v2.PrecisionSecond))
	fmt.Println(hl7v2.FormatTime(t, hl7v2.PrecisionMillisecond))
	// Output:
	// 20240615
	// 20240615101530-0500
	// 20240615101530.250-0500
}

func ExampleReadAck() {
	m, _ := hl7v2.Parse(er7(
		`MSH|^~\&|MIIC|MIIC|MYEHR|1234^^NPI|20240615101502-0500||ACK^V04^ACK|ACK-0002|P|2.5.1`,
		`MSA|AE|VXU-0002`,
		`ERR||PID^1^11^^5|101^Required field missing^HL70357|W|||Patient zip code is missing`,
	))
	ack, err := hl7v2.ReadAck(m)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ack.Code, ack.Code.Accepted(), ack.ControlID)
	for _, e := range ack.Errors {
		fmt.Println(e.Location, e.Code, e.Severity, e.Diagnostic)
	}
	// Output:
	// AE false VXU-0002
	// PID[1].11.5 101 W Patient zip code is missing
}

func ExampleNewAck() {
	vxu, _ := hl7v2.Parse(er7(
		`MSH|^~\&|MYEHR|1234^^NPI|MIIC|MIIC|20240615101500-0500||VXU^V04^VXU_V04|VXU-0001|P|2.5.1|||ER|AL|||||Z22^CDCPHINVS`,
		`PID|1||432155^^^NIST-MPI-1^MR||Patient^Johnny`,
	))
	ack, err := hl7v2.NewAck(vxu, hl7v2.AppAccept, hl7v2.AckOptions{
		ControlID: "ACK-0001",
		Time:      time.Date(2024, 6, 15, 10, 15, 2, 0, time.FixedZone("", -5*3600)),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ack.Set("MSH.15", "NE")
	ack.Set("MSH.16", "NE")
	ack.Set("MSH.21.1", "Z23")
	ack.Set("MSH.21.2", "CDCPHINVS")
	fmt.Println(strings.ReplaceAll(string(hl7v2.Encode(ack)), "\r", "\n"))
	// Output:
	// MSH|^~\&|MIIC|MIIC|MYEHR|1234^^NPI|20240615101502-0500||ACK^V04^ACK|ACK-0001|P|2.5.1|||NE|NE|||||Z23^CDCPHINVS
	// MSA|AA|VXU-0001
}

func ExampleUnescape() {
	d := hl7v2.DefaultDelimiters()
	fmt.Printf("%q\n", hl7v2.Unescape(`a\F\b \E\ \X0D0A\ \.br\ \H\bold\N\ C:\temp`, d))
	fmt.Printf("%q\n", hl7v2.Escape("a|b \\ \r\n \\H\\bold\\N\\", d))
	// Output:
	// "a|b \\ \r\n \n \\H\\bold\\N\\ C:\\temp"
	// "a\\F\\b \\E\\ \\X0D\\\\.br\\ \\H\\bold\\N\\"
}
