package fhirserver

import (
	"net/http"
	"net/url"
)

// maxRequests bounds the requests Requests remembers.
const maxRequests = 1000

// Request is one request the server received, as Requests reports it.
type Request struct {
	Method string
	Path   string     // the URL path as sent: "/fhir/Appointment/A1"
	Query  url.Values // the decoded query: Query.Get("identifier")
	Header http.Header
	// Status is the status answered, 0 when none was: the server was down,
	// or the client gave up during a delay.
	Status int
}

// requestLog keeps the latest requests and a count per method. Guarded by
// Server.mu.
type requestLog struct {
	list   []Request // the latest maxRequests, oldest first
	counts map[string]int
	total  int
}

// record remembers r with the status it got.
func (s *Server) record(r *http.Request, status int) {
	req := Request{
		Method: r.Method,
		Path:   r.URL.Path,
		Query:  r.URL.Query(),
		Header: r.Header.Clone(),
		Status: status,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := &s.log
	if len(l.list) == maxRequests {
		copy(l.list, l.list[1:])
		l.list = l.list[:maxRequests-1]
	}
	l.list = append(l.list, req)
	l.counts[r.Method]++
	l.total++
}

// Requests returns the latest requests received (at most 1000), oldest
// first, faulted ones included. The caller owns the result.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.log.list))
	for i, r := range s.log.list {
		r.Query = cloneValues(r.Query)
		r.Header = r.Header.Clone()
		out[i] = r
	}
	return out
}

// Count returns how many requests with the method ("PUT") the server has
// received since it was made, faulted ones included; "" counts them all.
func (s *Server) Count(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if method == "" {
		return s.log.total
	}
	return s.log.counts[method]
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
