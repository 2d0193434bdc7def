package kafkaq

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
)

// TestIdempotentProducer: every produce request asks for the
// acknowledgement of all in-sync replicas and carries a producer id from
// InitProducerID, with sequence numbers: the broker stores a resent batch
// once.
func TestIdempotentProducer(t *testing.T) {
	c := startCluster(t, 3, "hms.out")
	var (
		mu      sync.Mutex
		acks    []int16
		batches []kmsg.RecordBatch
		inits   int
	)
	c.ControlKey(int16(kmsg.InitProducerID), func(kmsg.Request) (kmsg.Response, error, bool) {
		mu.Lock()
		inits++
		mu.Unlock()
		return nil, nil, false
	})
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		pr := req.(*kmsg.ProduceRequest)
		mu.Lock()
		defer mu.Unlock()
		acks = append(acks, pr.Acks)
		for _, rt := range pr.Topics {
			for _, rp := range rt.Partitions {
				var b kmsg.RecordBatch
				if err := b.ReadFrom(rp.Records); err != nil {
					t.Errorf("record batch: %v", err)
				}
				batches = append(batches, b)
			}
		}
		return nil, nil, false
	})
	cfg := queueConfig(c, "hms.out")
	p := publisher(t, cfg)
	for i := range 3 {
		send(t, p, message(fmt.Sprintf("k%d", i), fmt.Sprintf("I%d", i), "{}"))
	}
	mu.Lock()
	defer mu.Unlock()
	if inits == 0 {
		t.Error("no InitProducerID: the producer is not idempotent")
	}
	if len(acks) == 0 {
		t.Fatal("no produce request seen")
	}
	for _, a := range acks {
		if a != -1 {
			t.Errorf("acks %d, want -1 (all in-sync replicas)", a)
		}
	}
	for _, b := range batches {
		if b.ProducerID < 0 || b.FirstSequence < 0 {
			t.Errorf("batch with producer id %d, sequence %d: want an idempotent batch", b.ProducerID, b.FirstSequence)
		}
	}
}

// TestKeyOrder: many records sending their changes at once, one at a time
// per record as the outbox does: each record's changes land in one
// partition, keyed by the record key, in the order sent, and the records
// spread over the partitions.
func TestKeyOrder(t *testing.T) {
	const keys, versions = 40, 8
	c := startCluster(t, 6, "hms.out")
	p := publisher(t, queueConfig(c, "hms.out"))
	var wg sync.WaitGroup
	for k := range keys {
		wg.Go(func() {
			for v := range versions {
				m := message(fmt.Sprintf("P%d-%d", k, v), fmt.Sprintf("P%d", k), fmt.Sprintf("%d", v))
				m.RecordType = "Patient"
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := p.Send(ctx, m)
				cancel()
				if err != nil {
					t.Errorf("Send %s: %v", m.IdempotencyKey, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	rs := readAll(t, c, "hms.out", keys*versions)
	type seen struct {
		partition int32
		next      int // the version expected next
	}
	byKey := map[string]*seen{}
	partitions := map[int32]bool{}
	for _, r := range rs { // in partition order
		key := string(r.Key)
		s := byKey[key]
		if s == nil {
			s = &seen{partition: r.Partition}
			byKey[key] = s
		}
		partitions[r.Partition] = true
		if r.Partition != s.partition {
			t.Errorf("key %s in partitions %d and %d", key, s.partition, r.Partition)
		}
		if got := string(r.Value); got != fmt.Sprint(s.next) {
			t.Errorf("key %s: version %s, want %d", key, got, s.next)
		}
		s.next++
	}
	for k := range keys {
		if s := byKey[fmt.Sprintf("Patient/P%d", k)]; s == nil || s.next != versions {
			t.Errorf("key Patient/P%d: %+v, want %d versions", k, s, versions)
		}
	}
	if len(partitions) < 2 {
		t.Errorf("%d records in %d partition(s): the key does not pick the partition", len(rs), len(partitions))
	}
}

// answer makes c answer the next produce request with the Kafka error
// code for every partition.
func answer(c *kfake.Cluster, code int16) {
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range pr.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
}

// TestSendErrors: how Send fails, retryable (Status 0) or Permanent,
// never with the payload in the error.
func TestSendErrors(t *testing.T) {
	const secret = "Jane-Doe-1980" // stands for patient data
	body := `{"name":"` + secret + `"}`
	tests := []struct {
		name      string
		setup     func(c *kfake.Cluster) // before the Send
		topic     string                 // default hms.out
		body      string                 // default body
		timeout   time.Duration          // of the Send; default 5s
		permanent bool
		msg       string
	}{
		{"too large for the producer", nil, "", strings.Repeat(secret, 100_000), 0, true, "MESSAGE_TOO_LARGE"},
		{"too large for the topic", func(c *kfake.Cluster) { answer(c, kerr.MessageTooLarge.Code) }, "", "", 0, true, "MESSAGE_TOO_LARGE"},
		{"topic not authorized", func(c *kfake.Cluster) { answer(c, kerr.TopicAuthorizationFailed.Code) }, "", "", 0, true, "TOPIC_AUTHORIZATION_FAILED"},
		{"invalid topic", func(c *kfake.Cluster) { answer(c, kerr.InvalidTopicException.Code) }, "", "", 0, true, "INVALID_TOPIC"},
		{"not enough replicas", func(c *kfake.Cluster) { answer(c, kerr.NotEnoughReplicas.Code) }, "", "", time.Second, false, "no acknowledgement in time"},
		{"no such topic", nil, "nowhere", "", 0, false, "no such topic"},
		{"broker down", func(c *kfake.Cluster) { c.Close() }, "", "", time.Second, false, "produce to hms.out"},
		{"record type unfit for the topic", nil, "hms.{type}", "", 0, true, "cannot stand for {type}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := startCluster(t, 1, "hms.out")
			cfg := queueConfig(c, "hms.out")
			if tt.topic != "" {
				cfg.Endpoint += "?subject=" + tt.topic
			}
			p := publisher(t, cfg)
			if tt.setup != nil {
				tt.setup(c)
			}
			m := message("k", "I1", body)
			if tt.body != "" {
				m.Body = []byte(tt.body)
			}
			if tt.topic == "hms.{type}" {
				m.RecordType = "Imm/unization"
			}
			ctx, cancel := context.WithTimeout(t.Context(), max(tt.timeout, 5*time.Second))
			defer cancel()
			if tt.timeout > 0 {
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			err := p.Send(ctx, m)
			var se *outbox.SendError
			if !errors.As(err, &se) {
				t.Fatalf("Send: %v, want a *outbox.SendError", err)
			}
			if se.Permanent != tt.permanent || se.Status != 0 {
				t.Errorf("Send: permanent %v status %d (%v), want permanent %v status 0", se.Permanent, se.Status, err, tt.permanent)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Send: %v, want %q", err, tt.msg)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error holds the payload: %v", err)
			}
		})
	}
}

// TestClassify: Kafka's errors, and franz-go's, as the outbox takes them.
func TestClassify(t *testing.T) {
	tests := []struct {
		err, cause error
		permanent  bool
	}{
		{context.DeadlineExceeded, fmt.Errorf("sasl: %w", kerr.SaslAuthenticationFailed), true},
		{kgo.ErrRecordTimeout, errors.New("dial tcp 127.0.0.1:9: connect: connection refused"), false},
		{kerr.MessageTooLarge, nil, true},
		{kerr.RecordListTooLarge, nil, true},
		{kerr.InvalidTopicException, nil, true},
		{kerr.TopicAuthorizationFailed, nil, true},
		{kerr.ClusterAuthorizationFailed, nil, true},
		{fmt.Errorf("sasl: %w", kerr.SaslAuthenticationFailed), nil, true},
		{kerr.InvalidRecord, nil, true},
		{kerr.NotEnoughReplicas, nil, false},
		{kerr.NotEnoughReplicasAfterAppend, nil, false},
		{kerr.NotLeaderForPartition, nil, false},
		{kerr.RequestTimedOut, nil, false},
		{kerr.UnknownTopicOrPartition, nil, false},
		{kerr.OutOfOrderSequenceNumber, nil, false},
		{kgo.ErrRecordTimeout, nil, false},
		{kgo.ErrRecordRetries, nil, false},
		{kgo.ErrClientClosed, nil, false},
		{context.DeadlineExceeded, nil, false},
		{errors.New("dial tcp 127.0.0.1:9: connect: connection refused"), nil, false},
	}
	for _, tt := range tests {
		name, _, _ := strings.Cut(tt.err.Error(), ":")
		t.Run(name, func(t *testing.T) {
			se := classify("hms.out", 10, tt.err, tt.cause)
			if se.Permanent != tt.permanent || se.Status != 0 {
				t.Errorf("classify: permanent %v status %d (%v), want permanent %v", se.Permanent, se.Status, se, tt.permanent)
			}
		})
	}
}

// TestClose: a Send after Close fails as retryable with ErrClosed; Close
// is idempotent.
func TestClose(t *testing.T) {
	c := startCluster(t, 1, "hms.out")
	p := publisher(t, queueConfig(c, "hms.out"))
	send(t, p, message("k1", "I1", "{}"))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	err := p.Send(t.Context(), message("k2", "I1", "{}"))
	var se *outbox.SendError
	if !errors.As(err, &se) || se.Permanent || !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: %v, want a retryable ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestSASL: with auth basic, the password (an env: reference, resolved
// for each connection) authenticates with the mechanism the endpoint's
// sasl parameter names. Credentials the broker refuses fail Send for
// good, as a 401 does; the error never shows the password.
func TestSASL(t *testing.T) {
	for _, mech := range []string{SASLPlain, SASLScramSHA256, SASLScramSHA512} {
		t.Run(mech, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "hms.out"),
				kfake.EnableSASL(), kfake.Superuser(strings.ToUpper(mech), "liaison", "s3cret-pw"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			t.Setenv("KAFKA_TEST_PASSWORD", "s3cret-pw")
			cfg := queueConfig(c, "hms.out")
			cfg.Endpoint += "?sasl=" + mech
			cfg.Auth = &connector.Auth{Scheme: connector.SchemeBasic, Username: "liaison", Password: "env:KAFKA_TEST_PASSWORD"}
			send(t, publisher(t, cfg), message("k1", "I1", "{}"))

			// kfake drops the connection on bad credentials; Kafka answers
			// SASL_AUTHENTICATION_FAILED, as this does.
			c.ControlKey(int16(kmsg.SASLAuthenticate), func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				resp := req.(*kmsg.SASLAuthenticateRequest).ResponseKind().(*kmsg.SASLAuthenticateResponse)
				resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
				msg := "Authentication failed: Invalid username or password"
				resp.ErrorMessage = &msg
				return resp, nil, true
			})
			p := publisher(t, cfg)
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			err = p.Send(ctx, message("k2", "I1", "{}"))
			var se *outbox.SendError
			if !errors.As(err, &se) || !se.Permanent || !strings.Contains(err.Error(), "SASL_AUTHENTICATION_FAILED") {
				t.Errorf("Send with refused credentials: %v, want a permanent SASL failure", err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}
