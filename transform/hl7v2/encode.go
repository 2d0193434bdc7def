package hl7v2

// Encode writes m in ER7 with m's delimiters, every segment terminated by a
// CR, as chapter 2 prescribes (so the output ends with CR). Values are
// escaped with Escape. For MSH, FHS and BHS the first two fields
// are written from m.Delims, whatever the tree holds there.
//
// Encode does not validate: a message whose delimiters fail Validate, or
// whose segment names are not segment IDs, is written as is and may not
// parse back. For a message that came from Parse, Parse(Encode(m)) gives m
// again, and Encode gives back the input bytes when the input was written
// the way Encode writes (CR terminators, escapes as Escape produces them).
func Encode(m *Message) []byte {
	if m == nil {
		return nil
	}
	d := m.delims()
	b := make([]byte, 0, encodedSizeHint(m))
	for i := range m.Segments {
		s := &m.Segments[i]
		b = append(b, s.Name...)
		fields := s.Fields
		if isHeader(s.Name) {
			b = append(b, d.Field)
			b = append(b, d.EncodingCharacters()...)
			fields = fields[min(2, len(fields)):]
		}
		for _, f := range fields {
			b = append(b, d.Field)
			b = appendField(b, f, d)
		}
		b = append(b, '\r')
	}
	return b
}

func appendField(b []byte, f Field, d Delimiters) []byte {
	for i, r := range f {
		if i > 0 {
			b = append(b, d.Repetition)
		}
		for j, c := range r {
			if j > 0 {
				b = append(b, d.Component)
			}
			for k, v := range c {
				if k > 0 {
					b = append(b, d.Subcomponent)
				}
				b = d.appendEscaped(b, v)
			}
		}
	}
	return b
}

// encodedSizeHint estimates the output size to size the buffer once.
func encodedSizeHint(m *Message) int {
	n := 0
	for i := range m.Segments {
		n += 4 + len(m.Segments[i].Fields)
		for _, f := range m.Segments[i].Fields {
			for _, r := range f {
				for _, c := range r {
					for _, v := range c {
						n += len(v) + 1
					}
				}
			}
		}
	}
	return n
}
