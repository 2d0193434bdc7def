package connector

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration that JSON and YAML read and write as Go
// duration text ("30s", "1h30m", "72h"). On input it also accepts a number
// of seconds (30, 1.5). Convert with time.Duration(d).
type Duration time.Duration

// errDuration is the message for a value that is not a duration.
var errDuration = errors.New(`want a duration like "30s" or "72h", or a number of seconds`)

// String returns d as Go duration text without zero trailing units:
// "72h" rather than "72h0m0s", "10m" rather than "10m0s".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// MarshalJSON writes d as a JSON string of duration text.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.String())
}

// UnmarshalJSON reads a JSON string of duration text or a JSON number of
// seconds; null leaves d as it is.
func (d *Duration) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := parseDuration(s)
		if err != nil {
			return err
		}
		*d = v
		return nil
	default:
		v, err := parseSeconds(string(b))
		if err != nil {
			return err
		}
		*d = v
		return nil
	}
}

// MarshalYAML writes d as duration text.
func (d Duration) MarshalYAML() (any, error) {
	return d.String(), nil
}

// UnmarshalYAML reads a scalar of duration text or a number of seconds;
// null leaves d as it is.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: %w", n.Line, errDuration)
	}
	var (
		v   Duration
		err error
	)
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!int", "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return err
		}
		v, err = parseSeconds(strconv.FormatFloat(f, 'g', -1, 64))
	default:
		v, err = parseDuration(n.Value)
	}
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}

// parseDuration reads Go duration text. The error does not repeat s.
func parseDuration(s string) (Duration, error) {
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, errDuration
	}
	return Duration(v), nil
}

// parseSeconds reads a decimal number of seconds, rounded to the nearest
// nanosecond.
func parseSeconds(s string) (Duration, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, errDuration
	}
	ns := math.Round(f * 1e9)
	if ns >= math.MaxInt64 || ns < math.MinInt64 {
		return 0, fmt.Errorf("%s seconds is out of range (at most about 292 years)", s)
	}
	return Duration(ns), nil
}
