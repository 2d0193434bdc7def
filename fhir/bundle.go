package fhir

import (
	"crypto/rand"
	"fmt"
)

// Transaction builds a FHIR transaction (or batch) Bundle for a server's
// base URL: each entry gets a "urn:uuid:" fullUrl, so entries can refer to
// one another before the server has assigned ids, and a request saying what
// to do with it (hl7.org/fhir/R4/http.html#transaction). Not safe for
// concurrent use.
type Transaction struct {
	kind    string
	entries []any
}

// NewTransaction starts a Bundle of type "transaction": all entries succeed
// or fail together.
func NewTransaction() *Transaction { return &Transaction{kind: "transaction"} }

// NewBatch starts a Bundle of type "batch": each entry succeeds on its own.
func NewBatch() *Transaction { return &Transaction{kind: "batch"} }

// Create adds a POST of the resource; ifNoneExist, when not empty, makes it
// a conditional create ("identifier=urn:hms:patient|P1"). It returns the
// entry's fullUrl, for references from other entries.
func (t *Transaction) Create(r Resource, ifNoneExist string) string {
	req := map[string]any{"method": "POST", "url": r.Type()}
	if ifNoneExist != "" {
		req["ifNoneExist"] = ifNoneExist
	}
	return t.add(r, req)
}

// Update adds a PUT of the resource by its id ("Patient/123").
func (t *Transaction) Update(r Resource) string {
	return t.add(r, map[string]any{"method": "PUT", "url": r.Type() + "/" + r.ID()})
}

// ConditionalUpdate adds a PUT by search ("Appointment?identifier=urn:hms:appointment|A1").
func (t *Transaction) ConditionalUpdate(r Resource, query string) string {
	return t.add(r, map[string]any{"method": "PUT", "url": r.Type() + "?" + query})
}

// Delete adds a DELETE of "Type/id" or, for a conditional delete, "Type?query".
func (t *Transaction) Delete(url string) {
	t.entries = append(t.entries, map[string]any{"request": map[string]any{"method": "DELETE", "url": url}})
}

func (t *Transaction) add(r Resource, req map[string]any) string {
	full := "urn:uuid:" + NewUUID()
	t.entries = append(t.entries, map[string]any{"fullUrl": full, "resource": map[string]any(r), "request": req})
	return full
}

// Len is the number of entries added so far.
func (t *Transaction) Len() int { return len(t.entries) }

// Bundle returns the Bundle resource. The entries are shared, not copied.
func (t *Transaction) Bundle() Resource {
	b := Resource{"resourceType": "Bundle", "type": t.kind}
	if len(t.entries) > 0 {
		b["entry"] = t.entries
	}
	return b
}

// Entries returns the resources of a Bundle's entries, in order, skipping
// entries without one (a DELETE). It returns nil for anything but a Bundle.
func Entries(bundle Resource) []Resource {
	if bundle.Type() != "Bundle" {
		return nil
	}
	list, _ := bundle["entry"].([]any)
	out := make([]Resource, 0, len(list))
	for _, e := range list {
		entry, _ := e.(map[string]any)
		if res, ok := entry["resource"].(map[string]any); ok {
			out = append(out, res)
		}
	}
	return out
}

// NewUUID returns a random (version 4) UUID in its canonical text form.
func NewUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // crypto/rand.Read never fails (Go 1.24+)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
