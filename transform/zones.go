package transform

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/expr-lang/expr"
)

// zones caches IANA time zones by name. time.LoadLocation reads and parses
// the zone file on every call, which was most of the cost of mapping an
// appointment; a mapping asks for the same few zones over and over. Only
// zones that exist are cached, so the cache is bounded by the zone database.
var zones sync.Map // name → *time.Location

// loadZone is time.LoadLocation, cached.
func loadZone(name string) (*time.Location, error) {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, errors.New("unknown time zone")
	}
	zones.Store(name, loc)
	return loc, nil
}

// dateLayouts are the layouts date(text) tries, as expr's own date does.
var dateLayouts = []string{
	"2006-01-02",
	"15:04:05",
	"2006-01-02 15:04:05",
	time.RFC3339,
	time.RFC822,
	time.RFC850,
	time.RFC1123,
}

// dateFunctions replace expr's date and timezone built-ins with the same
// behaviour over cached zones:
//
//	date(text)                  the first of dateLayouts that parses, in UTC
//	date(text, layout)          a Go layout, in UTC unless the text has an offset
//	date(text, layout, zone)    a wall-clock time in an IANA zone
//	timezone(zone)              the zone, for date(timezone(z), text, layout)
func dateFunctions() []expr.Option {
	return []expr.Option{
		expr.Function("date", func(p ...any) (any, error) {
			var loc *time.Location
			if l, ok := p[0].(*time.Location); ok {
				loc, p = l, p[1:]
			}
			if len(p) == 0 || len(p) > 3 {
				return nil, errors.New("date(text[, layout[, zone]]) takes 1 to 3 arguments")
			}
			text, ok := p[0].(string)
			if !ok {
				return nil, fmt.Errorf("date: expected text, got %s", typeName(p[0]))
			}
			if len(p) == 3 {
				zone, _ := p[2].(string)
				l, err := loadZone(zone)
				if err != nil {
					return nil, err
				}
				loc = l
			}
			if loc == nil {
				loc = time.UTC
			}
			if len(p) >= 2 {
				layout, ok := p[1].(string)
				if !ok {
					return nil, fmt.Errorf("date: the layout is %s, not text", typeName(p[1]))
				}
				return time.ParseInLocation(layout, text, loc)
			}
			for _, layout := range dateLayouts {
				if t, err := time.ParseInLocation(layout, text, loc); err == nil {
					return t, nil
				}
			}
			return nil, errors.New("invalid date")
		}),
		expr.Function("timezone", func(p ...any) (any, error) {
			if len(p) != 1 {
				return nil, errors.New("timezone(zone) takes 1 argument")
			}
			zone, _ := p[0].(string)
			return loadZone(zone)
		}),
	}
}
