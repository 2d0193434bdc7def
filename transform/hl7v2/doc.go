// Package hl7v2 reads and writes HL7 version 2 messages in their
// traditional ER7 ("pipe and hat") encoding, following chapter 2 of v2.5.1
// (message construction, encoding characters, escape sequences) with the
// v2.7 truncation character. It is the codec behind the mapping engine's
// hl7v2 input and output: ADT and SIU feeds in, CDC immunization VXU^V04
// out, and the ACK that comes back.
//
// It knows the syntax, not the message definitions: there is no schema of
// segments, data types or lengths, so any segment, Z-segments included, is
// read and written the same way.
//
//	m, err := hl7v2.Parse(body)        // *ParseError says segment, field and offset
//	family := m.Get("PID.5.1")         // "" when absent
//	ids := m.GetAll("PID.3.1")         // every repetition
//	m.Set("PID.5.1", "O'Brien & Sons") // escaped by Encode
//	out := hl7v2.Encode(m)
//
// # Model
//
// A Message is its Delimiters and a list of Segments; a Segment is a name
// and Fields; a Field is a list of Repetitions, a Repetition a list of
// Components, a Component a list of subcomponent strings. Nothing is
// dropped or invented: empty parts are nil, trailing empty fields,
// repetitions, components and subcomponents are kept, and for every
// message Parse accepts, Parse(Encode(m)) equals m. Input written the way
// Encode writes (each segment terminated by CR, escapes as Escape writes
// them) is given back byte for byte.
//
// Fields are numbered as in the standard, for every segment: Fields[n-1]
// is field n. In MSH (and the batch headers FHS and BHS) the field
// separator itself is MSH-1 and the encoding characters are MSH-2, so
// Get("MSH.1") is "|", Get("MSH.2") is `^~\&` and MSH-3, the sending
// application, is the first field after them. Encode, Get and Map take
// those two from Message.Delims; Set refuses them.
//
// A batch file (FHS, BHS, MSH…, BTS, FTS) parses as one Message whose
// segments are all of those, in order; every header must declare the same
// delimiters.
//
// # Escape sequences
//
// Values in the model are decoded text (see Unescape for every case):
// \F\ \S\ \T\ \R\ \E\ and the v2.7 \P\ become the character they stand
// for, \Xhh…\ becomes the bytes it encodes, and \.br\ becomes "\n". The
// formatting commands that have no plain-text form (\.sp\ \.in\ \.ti\ \.sk\
// \.fi\ \.nf\ \.ce\), highlighting (\H\ \N\), character set switches (\C…\
// \M…\) and local sequences (\Z…\) are kept in the value as written, and
// Encode writes them back as they are. An escape character that starts no
// valid sequence is read as a literal character. Encode escapes the four
// separators and the escape character, writes "\n" as \.br\ and "\r" as
// \X0D\. Bytes are not converted between character sets: MSH-18 is
// reported, not applied.
//
// # Paths
//
// A path names a value as SEG[occurrence].field[repetition].component.
// subcomponent, with "." or "-" between the parts and 1-based numbers;
// everything after the field is optional:
//
//	PID.5.1  PID-5-1  PID-5.1   family name (PID-5, component 1)
//	PID.3[2].1                  identifier of the 2nd repetition of PID-3
//	OBX[2].5                    OBX-5 of the second OBX
//	MSH.9.2                     trigger event
//
// Get reads the first segment, repetition, component and subcomponent
// unless told otherwise, so "PID.5" means "PID.5[1].1.1"; GetAll reads
// every repetition, and every segment of that name unless the path names
// one. Set creates what is missing, segments included. Compile paths once
// with ParsePath, which reports a *PathError with an offset, and use
// Value, Values and SetValue with the result.
//
// # Map
//
// Map gives the whole message as plain Go values for an expression
// language: a map from segment name to the list of those segments, in
// message order. Every level below is a list, always, so an expression can
// index without checking types:
//
//	map[string]any{
//		"PID": []any{ // every PID segment, in order
//			[]any{ // one segment
//				"PID",                    // [0] the segment name
//				[]any{[]any{[]any{"1"}}}, // [1] PID-1: repetitions of components of subcomponents
//				[]any{},                  // [2] PID-2: empty
//				[]any{ // [3] PID-3
//					[]any{[]any{"100045"}, []any{}, []any{}, []any{"MCM"}, []any{"MR"}}, // 1st repetition
//					[]any{[]any{"X9"}}, // 2nd repetition
//				},
//			},
//		},
//	}
//
// So PID-5.1 is input.PID[0][5][0][0][0] (first PID, field 5, first
// repetition, first component, first subcomponent) and MSH-9.2 is
// input.MSH[0][9][0][1][0]; MSH[0][1] holds "|" and MSH[0][2] `^~\&`. A
// segment's list ends at its last field (len(seg)-1 fields); absent
// segments are absent keys. Only field indexes match the standard's numbers
// (index 0 being the name); repetitions, components and subcomponents are
// 0-based. Values are decoded text, as Get returns them. For single values,
// Get and a path are shorter and never fail on a missing part; Map is for
// iterating (every OBX, every PID-3 repetition).
//
// # Times and acknowledgments
//
// ParseTime reads a DTM (or the first component of a TS) into a time.Time
// and its Precision, in a default location when the value has no offset;
// FormatTime writes one. ReadAck reads MSA and ERR from an acknowledgment;
// NewAck builds the ACK for a received message.
//
// # Limits and safety
//
// Parse accepts at most MaxMessageSize bytes and MaxElements separators,
// rejects anything that is not a message with a *ParseError whose text
// never quotes the message (it is patient data), and never panics; it is
// fuzzed as a round trip. A Message may be read from several goroutines at
// once; Set needs exclusive access. MLLP framing belongs to the transport,
// not here.
package hl7v2
