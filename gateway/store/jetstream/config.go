package jetstream

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"
)

// Defaults of Config.
const (
	DefaultStream         = "LIAISON_OUTBOX"
	DefaultDeadStream     = "LIAISON_DEAD"
	DefaultControl        = "LIAISON_CONTROL"
	DefaultSubject        = "liaison.outbox"
	DefaultDeadSubject    = "liaison.dead"
	DefaultPartitions     = 16
	DefaultDuplicates     = 5 * time.Minute
	DefaultAckMargin      = 10 * time.Second
	DefaultPullExpiry     = 10 * time.Second
	DefaultControlPoll    = 5 * time.Second
	DefaultPublishTimeout = 5 * time.Second
	DefaultChangesStream  = "LIAISON_CHANGES"
	DefaultRecordsSubject = "liaison.records"
	DefaultRelayAckWait   = 30 * time.Second
)

// group is the priority group every partition consumer has; a pull names it
// with its priority.
const group = "liaison"

// priorities is how many priority levels a pull can ask for (0 to 9).
const priorities = 10

// Config says where the outbox lives and how it is shared. Every gateway
// of a deployment must use the same Stream, DeadStream, Control, Subject,
// DeadSubject and Partitions; Instance differs between them.
type Config struct {
	// Stream is the outbox stream's name. Default LIAISON_OUTBOX.
	Stream string
	// DeadStream is the dead-letter stream's name. Default LIAISON_DEAD.
	DeadStream string
	// Control is the key-value bucket holding pause flags and the
	// partition count. Default LIAISON_CONTROL.
	Control string
	// Subject is the outbox subjects' prefix: a message goes to
	// <Subject>.<connector>.<partition>. Default liaison.outbox.
	Subject string
	// DeadSubject is the dead letters' prefix: <DeadSubject>.<connector>.
	// Default liaison.dead.
	DeadSubject string
	// Replicas of the streams and the bucket: 1, or 3 (or 5) on a cluster,
	// where a publish is acknowledged once a quorum stored it. Default 1.
	Replicas int
	// Partitions per connector: the record key hashed mod Partitions picks
	// the subject, so one record's messages keep their order while
	// different records spread over gateways. Fixed for a deployment:
	// Ensure refuses a different count than the one recorded. Default 16.
	Partitions int
	// Duplicates is the window within which the stream stores a message
	// with a given Nats-Msg-Id once (a re-publish after a lost ack, a
	// replay resumed after a crash). Default 5m.
	Duplicates time.Duration
	// Instance names this gateway process; the partitions it prefers
	// follow from it (see Run). Default: random, so a restarted process
	// may prefer other partitions. Letters, digits, '-' and '_'.
	Instance string
	// AckMargin is added to a connector's Policy.Timeout to make the
	// consumers' AckWait: how long a message handed to a gateway that
	// died waits before another gateway gets it. Default 10s.
	AckMargin time.Duration
	// PullExpiry bounds one pull request; a gateway renews its pulls this
	// often. Default 10s.
	PullExpiry time.Duration
	// ControlPoll is how often Run reads the pause flag besides watching
	// it (a watch lost in a server failover is caught up). Default 5s.
	ControlPoll time.Duration
	// PublishTimeout bounds waiting for one publish acknowledgement
	// before Publish publishes again (same Nats-Msg-Id). Default 5s.
	PublishTimeout time.Duration
	// ChangesStream is the stream of record changes that Changes keeps.
	// Default LIAISON_CHANGES.
	ChangesStream string
	// RecordsSubject is the record changes' prefix: a change of a record
	// goes to <RecordsSubject>.<partition>.<type>.<id>. Default
	// liaison.records.
	RecordsSubject string
	// RelayAckWait is how long a change handed to a relay that died waits
	// before a relay gets it again; a relay's publish to the outbox is
	// bounded by three quarters of it. Default 30s.
	RelayAckWait time.Duration
	// OnAttempt is called after every attempt with its outcome: Delivered,
	// Failed (to be retried) or Dead; for metrics. Optional.
	OnAttempt func(connector string, state State, took time.Duration)
	// OnGone is called when a connector answered 410 Gone; Run has paused
	// it across the cluster (flag "gone"). Optional.
	OnGone func(connector string)
}

// State is an attempt's outcome, as Config.OnAttempt sees it.
type State string

const (
	Delivered State = "delivered"
	Failed    State = "failed" // retried later
	Dead      State = "dead"
)

func (c Config) withDefaults() Config {
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&c.Stream, DefaultStream)
	def(&c.DeadStream, DefaultDeadStream)
	def(&c.Control, DefaultControl)
	def(&c.Subject, DefaultSubject)
	def(&c.DeadSubject, DefaultDeadSubject)
	def(&c.ChangesStream, DefaultChangesStream)
	def(&c.RecordsSubject, DefaultRecordsSubject)
	if c.Instance == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		c.Instance = hex.EncodeToString(b[:])
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.Partitions <= 0 {
		c.Partitions = DefaultPartitions
	}
	if c.Duplicates <= 0 {
		c.Duplicates = DefaultDuplicates
	}
	if c.AckMargin <= 0 {
		c.AckMargin = DefaultAckMargin
	}
	if c.PullExpiry <= 0 {
		c.PullExpiry = DefaultPullExpiry
	}
	if c.ControlPoll <= 0 {
		c.ControlPoll = DefaultControlPoll
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = DefaultPublishTimeout
	}
	if c.RelayAckWait <= 0 {
		c.RelayAckWait = DefaultRelayAckWait
	}
	return c
}

// Validate checks a Config with its defaults filled, without I/O.
func (c Config) Validate() error {
	for _, n := range []struct{ what, v string }{
		{"stream", c.Stream}, {"dead stream", c.DeadStream}, {"changes stream", c.ChangesStream},
		{"control bucket", c.Control}, {"instance", c.Instance},
	} {
		if !isToken(n.v) {
			return fmt.Errorf("%s %q: letters, digits, '-' and '_' only", n.what, n.v)
		}
	}
	for _, s := range []struct{ what, v string }{{"subject", c.Subject}, {"dead subject", c.DeadSubject}, {"records subject", c.RecordsSubject}} {
		if err := checkPrefix(s.v); err != nil {
			return fmt.Errorf("%s %q: %w", s.what, s.v, err)
		}
	}
	if c.Subject == c.DeadSubject || c.RecordsSubject == c.Subject || c.RecordsSubject == c.DeadSubject {
		return errors.New("subject, dead subject and records subject must differ")
	}
	if c.Replicas > 5 || c.Replicas%2 == 0 {
		return fmt.Errorf("replicas %d: 1, 3 or 5", c.Replicas)
	}
	if c.Partitions > 1024 {
		return fmt.Errorf("partitions %d: at most 1024", c.Partitions)
	}
	return nil
}

// Partition is the partition of a record among n: FNV-1a of
// "<type>/<id>", mod n. Every message of one record lands in one partition.
func Partition(recordType, recordID string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(recordType))
	h.Write([]byte{'/'})
	h.Write([]byte(recordID))
	return int(h.Sum32() % uint32(n))
}

// subject is the outbox subject of a connector's partition.
func (c Config) subject(conn string, p int) string {
	return c.Subject + "." + conn + "." + strconv.Itoa(p)
}

// deadSubject is the dead-letter subject of a connector.
func (c Config) deadSubject(conn string) string { return c.DeadSubject + "." + conn }

// consumerName is the durable consumer of a connector's partition.
func consumerName(conn string, p int) string { return conn + "-" + strconv.Itoa(p) }

// priority is how strongly this instance asks for a partition: 0 is the
// strongest. The server hands a partition's next message to the waiting
// pull of the lowest priority, so each partition goes to the gateway whose
// hash is lowest for it, and to the next one when that gateway is gone.
func (c Config) priority(conn string, p int) int {
	h := fnv.New32a()
	h.Write([]byte(c.Instance + "\x00" + conn + "\x00" + strconv.Itoa(p)))
	return int(h.Sum32() % priorities)
}

// checkConnector checks that a connector id can be a subject token, a
// consumer name part and a key part.
func checkConnector(conn string) error {
	if !isToken(conn) {
		return fmt.Errorf("connector %q: %w", conn, ErrConnectorName)
	}
	return nil
}

// isToken reports whether s is non-empty and only letters, digits, '-'
// and '_'.
func isToken(s string) bool {
	for _, r := range s {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '-', r == '_':
		default:
			return false
		}
	}
	return s != ""
}

// checkPrefix checks a subject prefix: dot-separated tokens, no wildcards.
func checkPrefix(s string) error {
	tok := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if tok == 0 {
				return errors.New("empty token")
			}
			tok = 0
			continue
		}
		if c := s[i]; c <= ' ' || c == '*' || c == '>' || c == 0x7f {
			return errors.New("white space or a wildcard")
		}
		tok++
	}
	return nil
}
