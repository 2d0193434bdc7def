// Package store keeps the gateway's state in one bbolt file: connectors,
// records, the outbox and its delivery history. It is the only package
// that imports bbolt.
//
// Every change goes through Update, which runs the caller's function in a
// write transaction shared with concurrent callers (group commit): the
// functions of all callers waiting while the previous commit was being
// written run in the next transaction, so many requests share one fsync.
// Update returns only after that commit is on disk, so a caller may then
// acknowledge what it wrote.
//
// The outbox is kept on disk, not in memory, so a million queued messages
// cost disk space rather than memory, and a restart is ready at once:
//
//	msgs     seq → Message                       every message, by sequence number
//	lanes    connector · lane · seq → ∅          the undelivered messages of each lane, in order
//	due      connector · due time · lane → seq   the head of each lane, by when it is due
//	states   state · connector · seq → ∅         messages by state, for listing and counts
//	done     delivered time · seq → ∅            delivered messages, for purging
//	records  type · id → Record                  the HMS side's view
//	sync     type · id · connector → SyncState   each record's last message per connector
//	conns    id → Connector
//	counts   connector · state → uint64
//
// A lane is a record key (type · id): messages of one lane are delivered
// one at a time, in order; different lanes are independent.
package store
