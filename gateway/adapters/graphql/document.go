package graphql

import (
	"fmt"
	"strings"
)

// operation is one operation definition of a GraphQL document.
type operation struct {
	kind string   // "query", "mutation" or "subscription"
	name string   // "" when anonymous
	vars []string // the variables it declares, without "$"
}

// declares tells whether op declares the variable name.
func (op operation) declares(name string) bool {
	for _, v := range op.vars {
		if v == name {
			return true
		}
	}
	return false
}

// lexeme is one lexical token of a GraphQL document (GraphQL spec, October
// 2021, 2.1). Ignored tokens — white space, line terminators, commas,
// comments, the byte order mark — are dropped.
type lexeme struct {
	kind byte   // 'n' name, 'p' punctuator, 's' string, '0' number
	text string // as written; a string's with its quotes
	pos  int    // byte offset in the document
}

// lex splits a GraphQL document into tokens. Its errors give a byte
// offset; a document is configuration, not patient data, but an offset is
// what an author needs.
func lex(doc string) ([]lexeme, error) {
	var toks []lexeme
	for i := 0; i < len(doc); {
		c := doc[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',':
			i++
		case strings.HasPrefix(doc[i:], "\uFEFF"):
			i += len("\uFEFF")
		case c == '#':
			for i < len(doc) && doc[i] != '\n' && doc[i] != '\r' {
				i++
			}
		case strings.HasPrefix(doc[i:], "..."):
			toks = append(toks, lexeme{'p', "...", i})
			i += 3
		case strings.IndexByte("!$&():=@[]{|}", c) >= 0:
			toks = append(toks, lexeme{'p', doc[i : i+1], i})
			i++
		case c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
			j := i + 1
			for j < len(doc) && (doc[j] == '_' || 'a' <= doc[j] && doc[j] <= 'z' || 'A' <= doc[j] && doc[j] <= 'Z' || '0' <= doc[j] && doc[j] <= '9') {
				j++
			}
			toks = append(toks, lexeme{'n', doc[i:j], i})
			i = j
		case c == '-' || '0' <= c && c <= '9':
			j, err := lexNumber(doc, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, lexeme{'0', doc[i:j], i})
			i = j
		case strings.HasPrefix(doc[i:], `"""`):
			end := strings.Index(strings.ReplaceAll(doc[i+3:], `\"""`, "xxxx"), `"""`)
			if end < 0 {
				return nil, fmt.Errorf("unterminated block string at offset %d", i)
			}
			j := i + 3 + end + 3
			toks = append(toks, lexeme{'s', doc[i:j], i})
			i = j
		case c == '"':
			j, err := lexString(doc, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, lexeme{'s', doc[i:j], i})
			i = j
		default:
			return nil, fmt.Errorf("unexpected character at offset %d", i)
		}
	}
	return toks, nil
}

// lexNumber returns the end of the IntValue or FloatValue at doc[i:].
func lexNumber(doc string, i int) (int, error) {
	start := i
	digits := func() int {
		n := 0
		for i < len(doc) && '0' <= doc[i] && doc[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if doc[i] == '-' {
		i++
	}
	if i < len(doc) && doc[i] == '0' {
		i++
	} else if digits() == 0 {
		return 0, fmt.Errorf("malformed number at offset %d", start)
	}
	if i < len(doc) && doc[i] == '.' {
		i++
		if digits() == 0 {
			return 0, fmt.Errorf("malformed number at offset %d", start)
		}
	}
	if i < len(doc) && (doc[i] == 'e' || doc[i] == 'E') {
		i++
		if i < len(doc) && (doc[i] == '+' || doc[i] == '-') {
			i++
		}
		if digits() == 0 {
			return 0, fmt.Errorf("malformed number at offset %d", start)
		}
	}
	if i < len(doc) && (doc[i] == '.' || doc[i] == '_' || 'a' <= doc[i] && doc[i] <= 'z' || 'A' <= doc[i] && doc[i] <= 'Z' || '0' <= doc[i] && doc[i] <= '9') {
		return 0, fmt.Errorf("malformed number at offset %d", start)
	}
	return i, nil
}

// lexString returns the end of the (non-block) StringValue at doc[i:].
func lexString(doc string, i int) (int, error) {
	start := i
	for i++; i < len(doc); i++ {
		switch doc[i] {
		case '"':
			return i + 1, nil
		case '\n', '\r':
			return 0, fmt.Errorf("unterminated string at offset %d", start)
		case '\\':
			i++
			if i >= len(doc) {
				break
			}
			switch doc[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+1 < len(doc) && doc[i+1] == '{' { // \u{1F600}
					end := strings.IndexByte(doc[i+1:], '}')
					if end < 2 || end > 9 || !isHex(doc[i+2:i+1+end]) {
						return 0, fmt.Errorf("bad escape in string at offset %d", i-1)
					}
					i += 1 + end
					break
				}
				if i+4 >= len(doc) || !isHex(doc[i+1:i+5]) {
					return 0, fmt.Errorf("bad escape in string at offset %d", i-1)
				}
				i += 4
			default:
				return 0, fmt.Errorf("bad escape in string at offset %d", i-1)
			}
		}
	}
	return 0, fmt.Errorf("unterminated string at offset %d", start)
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// operations lists the operations of an executable GraphQL document. It
// checks the document's tokens, its brackets and the shape of each
// definition (operations and fragments; no type system definitions), not
// the whole grammar: the server validates the rest, against its schema.
func operations(doc string) ([]operation, error) {
	toks, err := lex(doc)
	if err != nil {
		return nil, err
	}
	var ops []operation
	for i := 0; i < len(toks); {
		t := toks[i]
		switch {
		case t.kind == 'p' && t.text == "{": // the query shorthand
			if i, err = skipGroup(toks, i); err != nil {
				return nil, err
			}
			ops = append(ops, operation{kind: "query"})
		case t.kind == 'n' && (t.text == "query" || t.text == "mutation" || t.text == "subscription"):
			op := operation{kind: t.text}
			i++
			if i < len(toks) && toks[i].kind == 'n' {
				op.name = toks[i].text
				i++
			}
			if i < len(toks) && toks[i].text == "(" {
				end, err := skipGroup(toks, i)
				if err != nil {
					return nil, err
				}
				for k := i + 1; k+2 < end; k++ {
					// At the definitions' level, "$name :" declares; values
					// there are constants and hold no variables.
					if toks[k].text == "$" && toks[k+1].kind == 'n' && toks[k+2].text == ":" {
						op.vars = append(op.vars, toks[k+1].text)
					}
				}
				i = end
			}
			if i, err = selectionSet(toks, i, t.pos); err != nil {
				return nil, err
			}
			ops = append(ops, op)
		case t.kind == 'n' && t.text == "fragment":
			if i+3 >= len(toks) || toks[i+1].kind != 'n' || toks[i+2].text != "on" || toks[i+3].kind != 'n' {
				return nil, fmt.Errorf("malformed fragment at offset %d", t.pos)
			}
			if i, err = selectionSet(toks, i+4, t.pos); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("offset %d: want an operation or a fragment (an executable document)", t.pos)
		}
	}
	return ops, nil
}

// selectionSet skips the directives from toks[i] on and the selection set
// after them, returning the index after it. at is the definition's offset,
// for errors.
func selectionSet(toks []lexeme, i, at int) (int, error) {
	for i < len(toks) && toks[i].text != "{" {
		switch {
		case toks[i].text == "(":
			end, err := skipGroup(toks, i)
			if err != nil {
				return 0, err
			}
			i = end
		case toks[i].text == "@" || toks[i].kind == 'n':
			i++
		default:
			return 0, fmt.Errorf("offset %d: unexpected %q in a definition", toks[i].pos, toks[i].text)
		}
	}
	if i == len(toks) {
		return 0, fmt.Errorf("definition at offset %d has no selection set", at)
	}
	return skipGroup(toks, i)
}

// skipGroup returns the index after the bracket that closes the one at
// toks[i].
func skipGroup(toks []lexeme, i int) (int, error) {
	var stack []string
	closer := map[string]string{"{": "}", "(": ")", "[": "]"}
	for j := i; j < len(toks); j++ {
		t := toks[j]
		if t.kind != 'p' {
			continue
		}
		switch t.text {
		case "{", "(", "[":
			stack = append(stack, closer[t.text])
		case "}", ")", "]":
			if len(stack) == 0 || stack[len(stack)-1] != t.text {
				return 0, fmt.Errorf("unbalanced %q at offset %d", t.text, t.pos)
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return j + 1, nil
			}
		}
	}
	return 0, fmt.Errorf("%q at offset %d is never closed", toks[i].text, toks[i].pos)
}
