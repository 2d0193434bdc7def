package store

import (
	"context"
	"testing"
	"time"
)

// The audit trail lists newest first, pages with Before, stops at Since,
// and purges from its oldest end only what is past the cut-off.
func TestAuditTrail(t *testing.T) {
	s, _ := openTemp(t)
	for i := 0; i < 5; i++ {
		update(t, s, func(tx *Tx) error {
			return tx.AppendAudit(&AuditEntry{Kind: AuditAccept, Interaction: "create", RecordType: "Patient", RecordID: string(rune('a' + i))})
		})
	}
	var all, page []AuditEntry
	s.View(func(tx *Tx) error {
		all, _ = tx.Audit(AuditFilter{})
		page, _ = tx.Audit(AuditFilter{Before: MessageID(4), Limit: 2})
		return nil
	})
	if len(all) != 5 || all[0].RecordID != "e" || all[4].RecordID != "a" {
		t.Fatalf("all: %+v", all)
	}
	if len(page) != 2 || page[0].RecordID != "c" || page[1].RecordID != "b" {
		t.Fatalf("before 4: %+v", page)
	}
	cut := time.Now().Add(time.Hour)
	var n int
	if err := s.Update(context.Background(), func(tx *Tx) error {
		var err error
		n, err = tx.PurgeAudit(cut, 3)
		return err
	}); err != nil || n != 3 {
		t.Fatalf("purged %d, %v", n, err)
	}
	s.View(func(tx *Tx) error {
		all, _ = tx.Audit(AuditFilter{})
		return nil
	})
	if len(all) != 2 || all[1].RecordID != "d" {
		t.Fatalf("after purge: %+v", all)
	}
	s.View(func(tx *Tx) error {
		all, _ = tx.Audit(AuditFilter{Since: cut})
		return nil
	})
	if len(all) != 0 {
		t.Fatalf("since a future time: %+v", all)
	}
}
