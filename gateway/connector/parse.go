package connector

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Parse decodes a registration body, the JSON of
// POST /api/external-connectors, as DESIGN.md writes it:
//
//	{ "name": "StateEHR", "type": "FHIR", "endpoint": "https://stateehr.gov/fhir/Patient",
//	  "auth": { "scheme": "OAuth2", "clientId": "ABC123", "clientSecret": "SECRET" },
//	  "sync": { "mode": "webhook", "path": "/api/webhooks/state-ehr/patient" },
//	  "mapping": { "hmsPatientId": "id", "hmsName": "name" } }
//
// Field names are as in Config's json tags, exactly. Type, auth scheme and
// sync mode are case-insensitive and come back lower case; the scheme
// "api-key" or "api_key" comes back "apikey". Mapping is either
// {"inbound": {TYPE: NAME}, "outbound": {TYPE: NAME}, "rename": {...}}
// (any of the keys) or a rename map of strings, which becomes
// Mapping.Rename. Durations are Go duration text or a number of seconds.
// Null is the same as an absent field; empty lists and maps come back nil.
//
// The sync.verify scheme is case-insensitive too, and comes back lower
// case with its other spellings ("api_key", "hmac") made canonical.
//
// Unknown fields, duplicate fields and values of the wrong JSON type are
// errors. Every error is a *FieldError naming the field; several are
// joined with errors.Join. No error contains a secret's value. Parse checks
// the form only: Validate checks the values.
func Parse(data []byte) (Config, error) {
	n, err := jsonTree(data)
	if err != nil {
		return Config{}, &FieldError{Err: err}
	}
	if n.kind != objectKind {
		return Config{}, &FieldError{Err: fmt.Errorf("want a JSON object, got %s", n.kind)}
	}
	var d decoder
	c := d.config("", n)
	if err := joinErrors(d.errs); err != nil {
		return Config{}, err
	}
	return c, nil
}

// decoder reads nodes into a Config, collecting a *FieldError for each
// problem and going on with the next field.
type decoder struct {
	errs []error
	// seen records the node of every path read, when not nil, so that
	// LoadFile can place Validate's errors in the file.
	seen map[string]*node
}

func (d *decoder) fail(path string, n *node, err error) {
	d.errs = append(d.errs, &FieldError{Field: path, Err: err, Line: n.line, Col: n.col})
}

func (d *decoder) visit(path string, n *node) {
	if d.seen != nil {
		d.seen[path] = n
	}
}

func wantGot(want string, n *node) error {
	return fmt.Errorf("want %s, got %s", want, n.kind)
}

// fields maps an object's field names to the functions that read them.
type fields map[string]func(path string, v *node)

// object reads the object n with fs; null is an empty object.
func (d *decoder) object(path string, n *node, fs fields) {
	d.visit(path, n)
	switch n.kind {
	case nullKind:
		return
	case objectKind:
	default:
		d.fail(path, n, wantGot("an object", n))
		return
	}
	seen := make(map[string]bool, len(n.keys))
	for i, k := range n.keys {
		p := fieldPath(path, k.text)
		read, ok := fs[k.text]
		switch {
		case seen[k.text]:
			d.fail(p, k, ErrDuplicateField)
		case !ok:
			d.fail(p, k, unknownField(k.text, fs))
		default:
			seen[k.text] = true
			read(p, n.vals[i])
		}
	}
}

// unknownField is ErrUnknownField, with the known field that key most
// likely meant.
func unknownField(key string, fs fields) error {
	names := make([]string, 0, len(fs))
	for name := range fs {
		names = append(names, name)
	}
	slices.Sort(names)
	best, bestDist := "", 3
	for _, name := range names {
		if strings.EqualFold(name, key) {
			best = name
			break
		}
		if d := len(key) - len(name); d > 2 || d < -2 {
			continue
		}
		if dist := editDistance(strings.ToLower(key), strings.ToLower(name)); dist < bestDist && dist <= len(name)/2 {
			best, bestDist = name, dist
		}
	}
	if best != "" {
		return fmt.Errorf("%w (did you mean %q?)", ErrUnknownField, best)
	}
	return fmt.Errorf("%w (want one of %s)", ErrUnknownField, strings.Join(names, ", "))
}

// editDistance is the Levenshtein distance between a and b, in bytes, or
// 99 when either is long.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// str reads a string; null is "". A YAML number or boolean reads as
// written.
func (d *decoder) str(path string, n *node) string {
	d.visit(path, n)
	switch {
	case n.kind == stringKind:
		return n.text
	case n.kind == nullKind:
		return ""
	case n.loose && (n.kind == numberKind || n.kind == boolKind):
		return n.raw
	}
	d.fail(path, n, wantGot("a string", n))
	return ""
}

// item reads a string inside a list or map, where null is an error.
func (d *decoder) item(path string, n *node) string {
	if n.kind == nullKind {
		d.visit(path, n)
		d.fail(path, n, wantGot("a string", n))
		return ""
	}
	return d.str(path, n)
}

// list reads an array of strings; null or empty is nil.
func (d *decoder) list(path string, n *node) []string {
	d.visit(path, n)
	switch n.kind {
	case nullKind:
		return nil
	case arrayKind:
	default:
		d.fail(path, n, wantGot("an array of strings", n))
		return nil
	}
	var out []string
	for i, v := range n.vals {
		out = append(out, d.item(indexPath(path, i), v))
	}
	return out
}

// strMap reads an object of strings; null or empty is nil.
func (d *decoder) strMap(path string, n *node) map[string]string {
	d.visit(path, n)
	switch n.kind {
	case nullKind:
		return nil
	case objectKind:
	default:
		d.fail(path, n, wantGot("an object of strings", n))
		return nil
	}
	var out map[string]string
	for i, k := range n.keys {
		p := fieldPath(path, k.text)
		if _, dup := out[k.text]; dup {
			d.fail(p, k, ErrDuplicateField)
			continue
		}
		if out == nil {
			out = make(map[string]string, len(n.keys))
		}
		out[k.text] = d.item(p, n.vals[i])
	}
	return out
}

// duration reads duration text or a number of seconds; null is 0.
func (d *decoder) duration(path string, n *node) Duration {
	d.visit(path, n)
	var (
		v   Duration
		err error
	)
	switch n.kind {
	case nullKind:
		return 0
	case stringKind:
		v, err = parseDuration(n.text)
	case numberKind:
		v, err = parseSeconds(n.text)
	default:
		err = errDuration
	}
	if err != nil {
		d.fail(path, n, err)
	}
	return v
}

// boolean reads true or false; null is false.
func (d *decoder) boolean(path string, n *node) bool {
	d.visit(path, n)
	switch n.kind {
	case nullKind:
		return false
	case boolKind:
		return n.text == "true"
	}
	d.fail(path, n, wantGot("true or false", n))
	return false
}

// integer reads an integer; null is 0.
func (d *decoder) integer(path string, n *node) int {
	d.visit(path, n)
	switch n.kind {
	case nullKind:
		return 0
	case numberKind:
		i, err := strconv.Atoi(n.text)
		if err == nil {
			return i
		}
		if errors.Is(err, strconv.ErrRange) {
			d.fail(path, n, errors.New("integer out of range"))
			return 0
		}
	}
	d.fail(path, n, wantGot("an integer", n))
	return 0
}

// lower is s trimmed and lower case: the form of the case-insensitive
// enumerations (type, scheme, mode).
func lower(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}

// config reads a Config from the object n.
func (d *decoder) config(path string, n *node) Config {
	var c Config
	d.object(path, n, fields{
		"name":      func(p string, v *node) { c.Name = d.str(p, v) },
		"type":      func(p string, v *node) { c.Type = Type(lower(d.str(p, v))) },
		"endpoint":  func(p string, v *node) { c.Endpoint = d.str(p, v) },
		"auth":      func(p string, v *node) { c.Auth = d.auth(p, v) },
		"sync":      func(p string, v *node) { c.Sync = d.sync(p, v) },
		"resources": func(p string, v *node) { c.Resources = d.list(p, v) },
		"mapping":   func(p string, v *node) { c.Mapping = d.mapping(p, v) },
		"delivery":  func(p string, v *node) { c.Delivery = d.delivery(p, v) },
		"soap":      func(p string, v *node) { c.SOAP = d.soap(p, v) },
		"graphql":   func(p string, v *node) { c.GraphQL = d.graphql(p, v) },
	})
	return c
}

// schemeAliases maps other spellings of a scheme, lower case, to the
// scheme.
var schemeAliases = map[string]string{
	"api-key": SchemeAPIKey,
	"api_key": SchemeAPIKey,
}

// auth reads Auth; null is nil.
func (d *decoder) auth(path string, n *node) *Auth {
	if n.kind == nullKind {
		d.visit(path, n)
		return nil
	}
	a := new(Auth)
	fs := fields{
		"scheme": func(p string, v *node) {
			a.Scheme = lower(d.str(p, v))
			if s, ok := schemeAliases[a.Scheme]; ok {
				a.Scheme = s
			}
		},
		"scopes": func(p string, v *node) { a.Scopes = d.list(p, v) },
	}
	for _, f := range authFields {
		fs[f.name] = func(p string, v *node) { *f.field(a) = d.str(p, v) }
	}
	d.object(path, n, fs)
	return a
}

// sync reads Sync.
func (d *decoder) sync(path string, n *node) Sync {
	var s Sync
	d.object(path, n, fields{
		"mode":     func(p string, v *node) { s.Mode = lower(d.str(p, v)) },
		"path":     func(p string, v *node) { s.Path = d.str(p, v) },
		"interval": func(p string, v *node) { s.Interval = d.duration(p, v) },
		"subject":  func(p string, v *node) { s.Subject = d.str(p, v) },
		"items":    func(p string, v *node) { s.Items = d.str(p, v) },
		"cursor":   func(p string, v *node) { s.Cursor = d.str(p, v) },
		"since":    func(p string, v *node) { s.Since = d.str(p, v) },
		"verify":   func(p string, v *node) { s.Verify = d.verify(p, v) },
	})
	return s
}

// verify reads Verify; null is nil.
func (d *decoder) verify(path string, n *node) *Verify {
	if n.kind == nullKind {
		d.visit(path, n)
		return nil
	}
	v := new(Verify)
	d.object(path, n, fields{
		"scheme": func(p string, x *node) {
			v.Scheme = lower(d.str(p, x))
			if s, ok := verifySchemeAliases[v.Scheme]; ok {
				v.Scheme = s
			}
		},
		"secrets":   func(p string, x *node) { v.Secrets = d.list(p, x) },
		"secret":    func(p string, x *node) { v.Secret = d.str(p, x) },
		"header":    func(p string, x *node) { v.Header = d.str(p, x) },
		"prefix":    func(p string, x *node) { v.Prefix = d.optStr(p, x) },
		"encoding":  func(p string, x *node) { v.Encoding = lower(d.str(p, x)) },
		"tolerance": func(p string, x *node) { v.Tolerance = d.duration(p, x) },
		"username":  func(p string, x *node) { v.Username = d.str(p, x) },
		"password":  func(p string, x *node) { v.Password = d.str(p, x) },
	})
	return v
}

// optStr reads a string that may be absent: null is nil, and "" is a
// pointer to "".
func (d *decoder) optStr(path string, n *node) *string {
	if n.kind == nullKind {
		d.visit(path, n)
		return nil
	}
	s := d.str(path, n)
	return &s
}

// mappingKeys are the keys of a Mapping object.
var mappingKeys = []string{"inbound", "outbound", "rename"}

// mapping reads Mapping: an object with any of mappingKeys whose value is
// an object (or null), else a rename map of strings.
func (d *decoder) mapping(path string, n *node) Mapping {
	d.visit(path, n)
	switch n.kind {
	case nullKind:
		return Mapping{}
	case objectKind:
	default:
		d.fail(path, n, wantGot(`an object: {"inbound": {…}, "outbound": {…}} or a rename map`, n))
		return Mapping{}
	}
	structured := false
	for i, k := range n.keys {
		if slices.Contains(mappingKeys, k.text) && (n.vals[i].kind == objectKind || n.vals[i].kind == nullKind) {
			structured = true
			break
		}
	}
	if !structured {
		return Mapping{Rename: d.strMap(path, n)}
	}
	var m Mapping
	d.object(path, n, fields{
		"inbound":  func(p string, v *node) { m.Inbound = d.strMap(p, v) },
		"outbound": func(p string, v *node) { m.Outbound = d.strMap(p, v) },
		"rename":   func(p string, v *node) { m.Rename = d.strMap(p, v) },
	})
	return m
}

// delivery reads Delivery.
func (d *decoder) delivery(path string, n *node) Delivery {
	var dl Delivery
	d.object(path, n, fields{
		"maxAge":         func(p string, v *node) { dl.MaxAge = d.duration(p, v) },
		"initialBackoff": func(p string, v *node) { dl.InitialBackoff = d.duration(p, v) },
		"maxBackoff":     func(p string, v *node) { dl.MaxBackoff = d.duration(p, v) },
		"timeout":        func(p string, v *node) { dl.Timeout = d.duration(p, v) },
		"concurrency":    func(p string, v *node) { dl.Concurrency = d.integer(p, v) },
	})
	return dl
}
