package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/liaisonhq/liaison/gateway/connector"
	"github.com/liaisonhq/liaison/gateway/outbox"
	"github.com/liaisonhq/liaison/gateway/queue/kafkaq"
)

// A kafka connector consumes FHIR resources from a topic (committed after
// the gateway's commit, deduplicated by Idempotency-Key) and a kafka
// connector produces HMS changes keyed by record, with the idempotency
// key as a header; against franz-go's in-process cluster.
func TestQueueKafka(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "ehr.patients", "hms.out.Patient"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close) // after the gateway's own cleanup
	url := "kafka://" + strings.Join(cluster.ListenAddrs(), ",")
	adapters := testAdapters()
	adapters[connector.Kafka] = func(cfg connector.Config, _ *http.Client) (outbox.Sender, error) { return kafkaq.NewPublisher(cfg) }
	lv := startLive(t, Config{Adapters: adapters, Consumers: map[connector.Type]ConsumerFactory{
		connector.Kafka: func(cfg connector.Config, durable string) (Consumer, error) { return kafkaq.NewConsumer(cfg, durable) },
	}})
	var c map[string]any
	if code := lv.call("POST", "/api/external-connectors", map[string]any{
		"name": "Registry", "type": "kafka", "endpoint": url + "?subject=hms.out.{type}", "resources": []string{"Patient"},
	}, &c); code != 201 {
		t.Fatalf("register the producer: %d %v", code, c)
	}
	if code := lv.call("POST", "/api/external-connectors", map[string]any{
		"name": "EHR feed", "type": "kafka", "endpoint": url, "resources": []string{"Patient"},
		"mapping": map[string]any{"inbound": map[string]any{"Patient": "fhir-patient-to-hms"}},
		"sync":    map[string]any{"mode": "queue", "subject": "ehr.patients"},
	}, &c); code != 201 {
		t.Fatalf("register the consumer: %d %v", code, c)
	}
	// A bad setting is a 400 naming the field.
	if code := lv.call("POST", "/api/external-connectors", map[string]any{
		"name": "Bad", "type": "kafka", "endpoint": url + "?topic=x",
	}, &c); code != 400 || !strings.Contains(mustJSON(c), `"endpoint"`) {
		t.Errorf("a bad endpoint parameter: %d %v, want 400 naming endpoint", code, c)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, id := range []string{"evt-1", "evt-1", "evt-2"} { // evt-1 twice: one change
		r := &kgo.Record{Topic: "ehr.patients", Key: []byte(id), Value: fhirPatient("Q-"+id, "Queue"),
			Headers: []kgo.RecordHeader{{Key: kafkaq.HeaderIdempotencyKey, Value: []byte(id)}}}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	lv.waitFor("both patients stored", func() bool {
		return lv.call("GET", "/api/records/Patient/Q-evt-1", nil, nil) == 200 && lv.call("GET", "/api/records/Patient/Q-evt-2", nil, nil) == 200
	})

	// They go on to the producer, keyed by record, with the idempotency
	// key as a header.
	out, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ConsumeTopics("hms.out.Patient"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	var got []*kgo.Record
	for len(got) < 2 && ctx.Err() == nil {
		got = append(got, out.PollFetches(ctx).Records()...)
	}
	if len(got) != 2 {
		t.Fatalf("%d records produced, want 2", len(got))
	}
	keys := map[string]bool{}
	for _, r := range got {
		keys[string(r.Key)] = true
		var rec map[string]any
		json.Unmarshal(r.Value, &rec)
		headers := map[string]string{}
		for _, h := range r.Headers {
			headers[h.Key] = string(h.Value)
		}
		if rec["lastName"] != "Queue" || headers[kafkaq.HeaderIdempotencyKey] == "" || headers[kafkaq.HeaderRecordType] != "Patient" {
			t.Errorf("produced %s: %v %v", r.Key, headers, rec)
		}
	}
	if !keys["Patient/Q-evt-1"] || !keys["Patient/Q-evt-2"] {
		t.Errorf("record keys %v, want Patient/Q-evt-1 and Patient/Q-evt-2", keys)
	}
	// Nothing more: the duplicate evt-1 was one change.
	time.Sleep(300 * time.Millisecond)
	pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer pcancel()
	if more := out.PollFetches(pctx).Records(); len(more) != 0 {
		t.Errorf("%d more records produced, want none", len(more))
	}
}

func mustJSON(v any) string {
	data, _ := json.Marshal(v)
	return string(data)
}
