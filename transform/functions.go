package transform

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
)

// functions are the built-ins a mapping's expressions may call, on top of
// expr's own (upper, lower, trim, split, join, date, now, len, …).
//
//	lookup(table, key[, default])   a value from the mapping's lookup tables
//	apply(mapping, value)           run another mapping (a sub-map) on a value
//	instant(t)                      FHIR instant, UTC: 2024-06-15T13:30:00Z
//	dateTime(t)                     FHIR dateTime with the time's own offset
//	fhirDate(t)                     FHIR date: 2024-06-15
//	addMinutes(t, n)                t plus n minutes
//	hl7Time(ts[, zone])             a time from an HL7 v2 TS/DTM value
//	hl7ToFHIR(ts[, zone])           an HL7 v2 TS as FHIR date or dateTime, keeping its precision
//	toHL7(t[, precision])           a time as HL7 v2 DTM (precision: date, minute, second)
//	coalesce(a, b, …)               the first value that is not empty
//	digits(s)                       only the digits of s
//	regexReplace(s, pattern, repl)  regexp.ReplaceAllString; regexFind(s, pattern): first match
//	uuid5(namespace, name)          a deterministic UUID (RFC 9562 v5); namespace a UUID or url, dns, oid
//	sha256(s)                       hex SHA-256 of s
//	number(x)                       a number from text or a FHIR decimal
//	formatTime(t, layout[, zone])   a time as text in a Go layout, in a zone
//	fail(message)                   stop with an error (the message must not hold input values)
func (c *compiler) functions() []expr.Option {
	m := c.m
	return append(dateFunctions(),
		expr.Function("lookup", func(p ...any) (any, error) {
			if len(p) < 2 || len(p) > 3 {
				return nil, errors.New("lookup(table, key[, default]) takes 2 or 3 arguments")
			}
			name, _ := p[0].(string)
			t := m.lookups[name]
			if t == nil {
				return nil, fmt.Errorf("lookup table %q is not defined", name)
			}
			v, ok := t.get(p[1])
			if !ok {
				if len(p) == 3 {
					return p[2], nil
				}
				return t.fallback, nil
			}
			return v, nil
		}),
		expr.Function("__apply", func(p ...any) (any, error) {
			r, _ := p[0].(*run)
			name, _ := p[1].(string)
			if r == nil || len(p) != 3 {
				return nil, errors.New("apply(mapping, value) takes 2 arguments")
			}
			return r.m.apply(r, name, p[2])
		}),
		expr.Function("instant", func(p ...any) (any, error) {
			t, err := timeArg("instant", p)
			if err != nil || t == nil {
				return nil, err
			}
			return t.UTC().Format("2006-01-02T15:04:05.999999999Z07:00"), nil
		}),
		expr.Function("dateTime", func(p ...any) (any, error) {
			t, err := timeArg("dateTime", p)
			if err != nil || t == nil {
				return nil, err
			}
			return t.Format("2006-01-02T15:04:05.999999999Z07:00"), nil
		}),
		expr.Function("fhirDate", func(p ...any) (any, error) {
			t, err := timeArg("fhirDate", p)
			if err != nil || t == nil {
				return nil, err
			}
			return t.Format("2006-01-02"), nil
		}),
		expr.Function("addMinutes", func(p ...any) (any, error) {
			if len(p) != 2 {
				return nil, errors.New("addMinutes(t, minutes) takes 2 arguments")
			}
			t, err := timeArg("addMinutes", p[:1])
			if err != nil || t == nil {
				return nil, err
			}
			n, err := toFloat(p[1])
			if err != nil {
				return nil, fmt.Errorf("addMinutes: %w", err)
			}
			return t.Add(time.Duration(n * float64(time.Minute))), nil
		}),
		expr.Function("hl7Time", func(p ...any) (any, error) {
			t, _, err := hl7Arg("hl7Time", p)
			if err != nil || t == nil {
				return nil, err
			}
			return *t, nil
		}),
		expr.Function("hl7ToFHIR", func(p ...any) (any, error) {
			t, prec, err := hl7Arg("hl7ToFHIR", p)
			if err != nil || t == nil {
				return nil, err
			}
			return fhirText(*t, prec), nil
		}),
		expr.Function("toHL7", func(p ...any) (any, error) {
			if len(p) < 1 || len(p) > 2 {
				return nil, errors.New("toHL7(t[, precision]) takes 1 or 2 arguments")
			}
			t, err := timeArg("toHL7", p[:1])
			if err != nil || t == nil {
				return nil, err
			}
			prec := "second"
			if len(p) == 2 {
				prec, _ = p[1].(string)
			}
			switch prec {
			case "date":
				return t.Format("20060102"), nil
			case "minute":
				return t.Format("200601021504-0700"), nil
			case "second":
				return t.Format("20060102150405-0700"), nil
			}
			return nil, fmt.Errorf("toHL7: precision %q: use date, minute or second", prec)
		}),
		expr.Function("coalesce", func(p ...any) (any, error) {
			for _, v := range p {
				if !isEmpty(v) {
					return v, nil
				}
			}
			return nil, nil
		}),
		expr.Function("digits", func(p ...any) (any, error) {
			s, err := stringArg("digits", p)
			if err != nil || s == "" {
				return nil, err
			}
			return strings.Map(func(r rune) rune {
				if unicode.IsDigit(r) {
					return r
				}
				return -1
			}, s), nil
		}),
		expr.Function("regexReplace", func(p ...any) (any, error) {
			if len(p) != 3 {
				return nil, errors.New("regexReplace(s, pattern, replacement) takes 3 arguments")
			}
			re, err := cachedRegexp(p[1])
			if err != nil {
				return nil, err
			}
			s, _ := p[0].(string)
			repl, _ := p[2].(string)
			return re.ReplaceAllString(s, repl), nil
		}),
		expr.Function("regexFind", func(p ...any) (any, error) {
			if len(p) != 2 {
				return nil, errors.New("regexFind(s, pattern) takes 2 arguments")
			}
			re, err := cachedRegexp(p[1])
			if err != nil {
				return nil, err
			}
			s, _ := p[0].(string)
			if sub := re.FindStringSubmatch(s); len(sub) > 1 {
				return sub[1], nil
			} else if len(sub) == 1 {
				return sub[0], nil
			}
			return nil, nil
		}),
		expr.Function("uuid5", func(p ...any) (any, error) {
			if len(p) != 2 {
				return nil, errors.New("uuid5(namespace, name) takes 2 arguments")
			}
			ns, _ := p[0].(string)
			name := fmt.Sprint(p[1])
			return uuid5(ns, name)
		}),
		expr.Function("sha256", func(p ...any) (any, error) {
			s, err := stringArg("sha256", p)
			if err != nil {
				return nil, err
			}
			sum := sha256.Sum256([]byte(s))
			return hex.EncodeToString(sum[:]), nil
		}),
		expr.Function("number", func(p ...any) (any, error) {
			if len(p) != 1 {
				return nil, errors.New("number(x) takes 1 argument")
			}
			if p[0] == nil {
				return nil, nil
			}
			return toFloat(p[0])
		}),
		expr.Function("fail", func(p ...any) (any, error) {
			msg, _ := p[0].(string)
			return nil, errors.New(msg)
		}, new(func(string) any)),
		expr.Function("__index", func(p ...any) (any, error) {
			return index(p[0], p[1]), nil
		}),
		expr.Function("formatTime", func(p ...any) (any, error) {
			if len(p) < 2 || len(p) > 3 {
				return nil, errors.New("formatTime(t, layout[, zone]) takes 2 or 3 arguments")
			}
			t, err := timeArg("formatTime", p[:1])
			if err != nil || t == nil {
				return nil, err
			}
			layout, _ := p[1].(string)
			if len(p) == 3 {
				zone, _ := p[2].(string)
				loc, err := loadZone(zone)
				if err != nil {
					return nil, errors.New("formatTime: unknown time zone")
				}
				*t = t.In(loc)
			}
			return t.Format(layout), nil
		}),
		expr.Patch(applyRewriter{}),
	)
}

// applyRewriter turns apply(name, value) into __apply(__run, name, value), so
// the sub-map runs inside the caller's run (sharing its nesting bound).
type applyRewriter struct{}

func (applyRewriter) Visit(n *ast.Node) {
	call, ok := (*n).(*ast.CallNode)
	if !ok {
		return
	}
	if id, ok := call.Callee.(*ast.IdentifierNode); ok && id.Value == "apply" {
		call.Callee = &ast.IdentifierNode{Value: "__apply"}
		call.Arguments = append([]ast.Node{&ast.IdentifierNode{Value: "__run"}}, call.Arguments...)
	}
}

// index is a[i] that gives nil, not an error, past the end, on nothing,
// and from the end for negative i.
func index(base, i any) any {
	switch b := base.(type) {
	case []any:
		n, ok := i.(int)
		if !ok {
			return nil
		}
		if n < 0 {
			n += len(b)
		}
		if n < 0 || n >= len(b) {
			return nil
		}
		return b[n]
	case map[string]any:
		k, _ := i.(string)
		return b[k]
	case nil:
		return nil
	}
	rv := reflect.ValueOf(base)
	if n, ok := i.(int); ok && (rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array || rv.Kind() == reflect.String) {
		if n < 0 {
			n += rv.Len()
		}
		if n < 0 || n >= rv.Len() {
			return nil
		}
		return rv.Index(n).Interface()
	}
	return nil
}

func timeArg(fn string, p []any) (*time.Time, error) {
	if len(p) != 1 {
		return nil, fmt.Errorf("%s(t) takes 1 argument", fn)
	}
	switch v := p[0].(type) {
	case nil:
		return nil, nil
	case time.Time:
		return &v, nil
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
			if t, err := time.Parse(layout, v); err == nil {
				return &t, nil
			}
		}
		return nil, fmt.Errorf("%s: text is not a date or time (expected RFC 3339 or YYYY-MM-DD)", fn)
	}
	return nil, fmt.Errorf("%s: expected a time, got %s", fn, typeName(p[0]))
}

func stringArg(fn string, p []any) (string, error) {
	if len(p) != 1 {
		return "", fmt.Errorf("%s(s) takes 1 argument", fn)
	}
	switch v := p[0].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case json.Number:
		return string(v), nil
	case int, float64, bool:
		return fmt.Sprint(v), nil
	}
	return "", fmt.Errorf("%s: expected text, got %s", fn, typeName(p[0]))
}

func toFloat(v any) (float64, error) {
	switch v := v.(type) {
	case int:
		return float64(v), nil
	case float64:
		return v, nil
	case json.Number:
		return v.Float64()
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return 0, errors.New("text is not a number")
		}
		return f, nil
	}
	return 0, fmt.Errorf("expected a number, got %s", typeName(v))
}

var regexps sync.Map // pattern → *regexp.Regexp

func cachedRegexp(p any) (*regexp.Regexp, error) {
	pattern, ok := p.(string)
	if !ok {
		return nil, errors.New("a regular expression must be text")
	}
	if re, ok := regexps.Load(pattern); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("regular expression: %w", err)
	}
	regexps.Store(pattern, re)
	return re, nil
}

// uuid5 is an RFC 9562 version 5 (SHA-1, name-based) UUID.
func uuid5(namespace, name string) (string, error) {
	switch namespace {
	case "dns":
		namespace = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	case "url":
		namespace = "6ba7b811-9dad-11d1-80b4-00c04fd430c8"
	case "oid":
		namespace = "6ba7b812-9dad-11d1-80b4-00c04fd430c8"
	}
	ns, err := hex.DecodeString(strings.ReplaceAll(namespace, "-", ""))
	if err != nil || len(ns) != 16 {
		return "", errors.New("uuid5: namespace must be a UUID, or url, dns or oid")
	}
	h := sha1.New()
	h.Write(ns)
	h.Write([]byte(name))
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]), nil
}
