package connector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// A node is one decoded JSON or YAML value. Parse and LoadFile turn their
// input into nodes, then one decoder reads nodes into a Config, so that a
// registration body and a config file entry mean the same thing.
type node struct {
	kind kind
	// text is a string's value, a number in decimal ("30", "1.5e3") or a
	// boolean ("true", "false").
	text string
	// keys and vals are an object's members in input order (keys are
	// string nodes, for their positions); vals alone are an array's items.
	keys, vals []*node
	// loose marks a YAML scalar: a number or boolean may be read as a
	// string, as written in raw (clientId: 123456).
	loose bool
	raw   string
	// line and col locate a YAML value, 1-based; zero for JSON.
	line, col int
}

type kind uint8

const (
	nullKind kind = iota
	boolKind
	numberKind
	stringKind
	objectKind
	arrayKind
)

// String names k for "want …, got …" messages.
func (k kind) String() string {
	switch k {
	case nullKind:
		return "null"
	case boolKind:
		return "a boolean"
	case numberKind:
		return "a number"
	case stringKind:
		return "a string"
	case objectKind:
		return "an object"
	default:
		return "an array"
	}
}

// maxDepth bounds the nesting of objects and arrays. A connector
// configuration is four levels deep.
const maxDepth = 32

var errDepth = fmt.Errorf("nested more than %d levels deep", maxDepth)

// jsonTree decodes data, one JSON value, into nodes. Errors give the byte
// offset; they quote at most one character of the input.
func jsonTree(data []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := jsonValue(dec, 0)
	if err == nil {
		if _, err = dec.Token(); err == io.EOF {
			return n, nil
		}
		if err == nil {
			err = errors.New("more data after the JSON value")
		}
	}
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return nil, fmt.Errorf("invalid JSON at byte %d: %w", se.Offset, err)
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		return nil, errors.New("invalid JSON: unexpected end of input")
	default:
		return nil, fmt.Errorf("invalid JSON at byte %d: %w", dec.InputOffset(), err)
	}
}

func jsonValue(dec *json.Decoder, depth int) (*node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case nil:
		return &node{kind: nullKind}, nil
	case bool:
		s := "false"
		if t {
			s = "true"
		}
		return &node{kind: boolKind, text: s}, nil
	case json.Number:
		return &node{kind: numberKind, text: string(t)}, nil
	case string:
		return &node{kind: stringKind, text: t}, nil
	}
	// A delimiter: Token only returns '{' or '[' where a value starts.
	if depth >= maxDepth {
		return nil, errDepth
	}
	n := &node{kind: arrayKind}
	if tok == json.Delim('{') {
		n.kind = objectKind
	}
	for dec.More() {
		if n.kind == objectKind {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key, _ := k.(string) // Token reports anything else as a syntax error
			n.keys = append(n.keys, &node{kind: stringKind, text: key})
		}
		v, err := jsonValue(dec, depth+1)
		if err != nil {
			return nil, err
		}
		n.vals = append(n.vals, v)
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return nil, err
	}
	return n, nil
}
