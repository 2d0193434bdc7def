// Package jetstream is the gateway's store on NATS JetStream, for
// deployments that run several stateless gateways (liaison serve) instead
// of one process with its bbolt store: Backend is store.Backend, and its
// Deliverer is outbox.Deliverer. It keeps the bbolt store's guarantees:
// nothing acknowledged is lost, delivery is at-least-once with the
// message's idempotency key, in order per record, retried with capped
// jittered backoff, dead-lettered, replayable.
//
//	b, err := jetstream.Open(ctx, jetstream.BackendConfig{URLs: urls, Config: jetstream.Config{Replicas: 3}}, log)
//	out, err := b.Accept(ctx, batch)       // before the 202
//	d := b.Deliverer(outbox.Config{...})
//	go d.Run(ctx)                          // relay and delivery, in every gateway
//	d.Start(connector, sender, policy)
//
// Underneath, the outbox and the accept side can be used on their own:
//
//	o, err := jetstream.New(nc, jetstream.Config{Replicas: 3}, log)
//	err = o.Ensure(ctx)                    // streams and bucket, at start
//	err = o.Publish(ctx, msgs)             // before the 202
//	err = o.Run(ctx, connector, sender, policy) // in every gateway, per connector
//	err = o.Pause(ctx, connector, "")      // on every gateway
//	n, err := o.Replay(ctx, connector, nil, progress)
//
//	ch, err := jetstream.NewChanges(nc, cfg, log) // the accept side
//	err = ch.Ensure(ctx)
//	rec, changed, err := ch.Apply(ctx, record)     // before the 202
//	err = ch.Relay(ctx, o)                         // in every gateway
//
// # Streams
//
// LIAISON_OUTBOX holds the messages on subjects
// liaison.outbox.<connector>.<partition>, where partition is FNV-1a of
// "<record type>/<record id>" mod Config.Partitions (default 16): every
// message of one record is in one partition, and records spread over the
// partitions. The partition count is recorded in the control bucket, and
// Ensure refuses another: changing it would move records between
// partitions while older messages of theirs wait in the old ones.
//
// The stream is a work queue: a message is removed once acknowledged, and
// one that no gateway consumes stays however long that lasts. Interest
// retention was the other choice; it drops a message published while no
// consumer covers its subject (a connector no gateway has run yet, or one
// whose consumers were deleted), which an outbox cannot allow. A work
// queue also makes the server refuse two consumers on one partition. What
// it costs: the stream keeps no history of delivered messages (their
// record is the records' sync state and the audit trail), and nothing
// else may consume the outbox's subjects (monitoring reads stream and
// consumer info). File storage; discard-new, so a full stream refuses a
// publish rather than dropping an accepted message; Config.Replicas of 1,
// or 3 on a cluster, where a publish is acknowledged once a quorum (two of
// three) stored it.
//
// Stored is written to the servers' files, not synced to disk: a server
// syncs every sync_interval (2 minutes by default). With three replicas on
// three machines an acknowledged message survives the loss of any one
// machine; with one replica it survives a killed server but not a power
// cut, unless the server runs with jetstream { sync_interval: always },
// which syncs every message and costs about five times the latency (see
// BenchmarkOutbox).
//
// LIAISON_DEAD holds dead letters on liaison.dead.<connector>, with limits
// retention: they stay until replayed. The key-value bucket
// LIAISON_CONTROL holds the pause flags (paused.<connector>) and the
// partition count (config.partitions).
//
// # Publish
//
// Publish publishes every message asynchronously and returns once the
// stream acknowledged all of them; a publish left unanswered or refused
// for the moment (a leader election: no responders, 503) is published
// again, until ctx ends. Each message's Nats-Msg-Id is the outbox message
// ID, which the stream stores once within Config.Duplicates (default 5m):
// a re-publish after a lost acknowledgement, by Publish or by its caller
// with the same IDs, is harmless. The ID rather than the idempotency key:
// a record changed A → B → A has two messages with the same key (source,
// record, content hash), and deduplicating on it would silently drop the
// third change; the key travels in its own header for the connector.
//
// Per-record order holds within one call: the n-th change of a record in
// msgs is published once its (n-1)-th is acknowledged, so a message
// published again never lands behind a later change of its record. It
// does not hold between concurrent calls carrying changes of one record:
// the caller serializes a record's changes (see the gateway's accept
// path).
//
// # Delivery
//
// Every gateway calls Run for every connector. Run keeps one durable pull
// consumer per partition, filtered on its subject, with explicit acks and
// MaxAckPending 1: the server hands out a partition's next message only
// once the previous one is acknowledged. That one setting gives the order
// per record (a message being retried stays pending, so the record's later
// changes and every other record of the partition wait behind it) and the
// exclusion between gateways (one message of a partition is out at a
// time, cluster-wide, whichever gateway holds it). The cost is throughput
// per partition: one message per send-and-acknowledge round trip, and a
// record being retried holds up the records that share its partition until
// it is delivered or dead. The remedy is more partitions: a connector's
// concurrency is its partition count, spread over the gateways.
//
// AckWait is the connector's Policy.Timeout plus Config.AckMargin: a send
// is cancelled after Timeout, so when a gateway dies holding a message,
// the message goes to another gateway only after any send of it has ended,
// and two sends of one partition never overlap.
//
// Which gateway delivers a partition: the consumers have a priority group
// with the "prioritized" policy, and each gateway pulls a partition with
// the priority FNV-1a(instance, connector, partition) mod 10. The server
// hands a message to the waiting pull of the lowest priority, so each
// partition goes to the gateway that hashes lowest on it and stays there
// (that gateway's pull is waiting whenever a message is acknowledged),
// partitions spread over the gateways, a gateway that starts takes its
// share at once, and when a gateway dies its pulls vanish with its
// connection and the next one takes over; the message it held comes after
// AckWait. Pinned clients (priority policy pinned_client with a PinnedTTL)
// were the other choice, and work in this server version, but do not share
// the load: the first gateway to pull pins every partition and keeps them
// until it dies, so after a rolling restart one gateway delivers
// everything, and failover waits for PinnedTTL besides AckWait. Exclusion
// does not need them, since MaxAckPending 1 gives it.
//
// An attempt is settled as package outbox classifies its error (see Run):
// delivered is acknowledged and the acknowledgement confirmed; a retry is
// a negative acknowledgement with a delay (capped exponential backoff with
// full jitter from the number of deliveries, Retry-After as a floor),
// which the server keeps across a leader change; dead — a permanent
// failure, or a retry that would come after Policy.MaxAge from the
// message's creation or replay — is published to the dead-letter stream
// (with the attempt's status, error and response, never the payload in an
// error; Nats-Msg-Id "<id>:dead:<outbox sequence>") and then acknowledged;
// a 410 Gone is retried and pauses the connector with reason "gone".
//
// # Pause, counts, replay
//
// Pause and Resume set and delete the connector's flag in the control
// bucket; every Run watches it (and reads it every Config.ControlPoll) and
// stops or resumes pulling; a delivery under way ends first. Counts are
// read from the engine, not from a process: queued is the outbox stream's
// count on the connector's subjects (waiting, in flight and being
// retried), dead the dead-letter stream's. Replay publishes dead letters
// back to the end of their partitions with Nats-Msg-Id
// "<id>:replay:<dead-letter sequence>" and then deletes them, so a replay
// that stopped half-way and is started again stores each once.
//
// # Accepting a change
//
// A gateway accepting a record change must store the record's new version
// and the messages it makes for the connectors, both or neither. A
// key-value bucket of records cannot be written atomically with an outbox
// publish (two streams), so Changes makes accepting a change one
// compare-and-swap publish to one stream, and a relay turns changes into
// outbox messages afterwards.
//
// LIAISON_CHANGES holds record versions on subjects
// liaison.records.<partition>.<type>.<id> (partition as in the outbox; a
// type or id that is not a token, such as a FHIR id with dots, is "~"
// and its base64url). The last message of a record's subject is its
// current version (store.Record as JSON, with Version one more than the
// previous one, and the outbox messages the version makes: "messages",
// complete with their IDs); the earlier ones are changes not yet relayed,
// or relayed and about to be purged. Limits retention with no limits and
// discard-new: the server drops nothing by itself.
//
// Apply reads the record's last message with its sequence and, unless the
// content is the same (Hash and Deleted: nothing is published, "unchanged"),
// publishes the next version with Nats-Expected-Last-Subject-Sequence set
// to that sequence (0 for a new record). A concurrent writer's version
// landing in between makes the server refuse it (wrong last sequence,
// 10071, or 10164 on a replicated stream); Apply reads again and tries
// again, up to 16 times, then returns ErrConflict. Concurrent Applies of
// one record therefore all land, each with its own version, and none is
// lost. Apply returns only after the publish acknowledgement (a quorum
// with three replicas).
//
// The reads go to the stream leader (STREAM.MSG.GET), not to direct gets:
// the stream does not allow them. With replicas, a direct get may be
// answered by a follower that has not yet stored the latest version; the
// compare-and-swap catches a stale read before a publish, but not before
// "unchanged": a record changed A → B, then A again, read stale as A,
// would drop the last change.
//
// Relay keeps one durable pull consumer per partition (relay-<n>),
// MaxAckPending 1, so that changes are handled one at a time in stream
// order, and per-record order holds: a record's changes are in one
// partition, in the order they landed. For each change it publishes the
// messages the change carries — mapped by the gateway before Accept, each
// with the ID "<connector>.<record hash>.<version>" (MessageID) — with
// Outbox.Publish (the Backend leaves out those of connectors deleted
// since), and only then
// acknowledges the change and purges the record's older versions (purge
// of the subject below the change's sequence: relayed already, and never
// the current version). A relay that dies between publish and
// acknowledgement leaves the change to come again after
// Config.RelayAckWait, to any gateway's relay; its messages get the same
// IDs and the outbox stream stores them once (Nats-Msg-Id within
// Config.Duplicates; after that window a duplicate reaches the connector,
// with the same idempotency key).
//
// A publish that fails leaves the change unacknowledged: it comes again
// with capped exponential backoff (100ms to 10s), logged as an error each
// time, and holds up its partition meanwhile. Mapping happens at accept
// time, so fan-out is decided once, exactly as on bbolt, and the relay
// has nothing to fail on but the servers; the price is that a record's
// current version keeps its messages' bodies in the stream.
//
// The alternatives weighed. One subject per record with MaxMsgsPerSubject
// 1 keeps only the current version: a change overwritten before the
// relay read it would never be relayed. Interest or work-queue retention
// would protect unrelayed changes but delete the current version once
// relayed. An atomic batch (ADR-50: Nats-Batch-Id, Nats-Batch-Sequence,
// Nats-Batch-Commit, on a stream with AllowAtomicPublish, both in
// nats-server 2.12 and nats.go v1.55.0) writing the record to
// liaison.records.<type>.<id> and the change to liaison.changes.<partition>
// does not help: a batch goes to one stream, and MaxMsgsPerSubject is the
// stream's, so it would cap the change subjects too. One subject per
// record, kept until relayed and compacted by the relay, needs one plain
// publish and gives both the current version and the unrelayed history.
//
// What it costs: the stream holds every record's current version for
// ever (deletions are versions with Deleted), plus the unrelayed
// changes; while no relay runs, the history grows until the server's
// storage limit refuses changes (discard-new), never dropping one. The partition count of the
// changes is Config.Partitions, as recorded by Outbox.Ensure; Changes
// itself does not check it.
//
// # Guarantees and their limits
//
// A message is acknowledged only after its send succeeded; every failure
// between send and acknowledgement (a gateway killed, an acknowledgement
// lost with a server) makes it come again with the same idempotency key,
// possibly to another gateway. Order is kept per record as stored, with
// these exceptions, which an idempotent connector absorbs: a redelivery
// after an acknowledgement lost in a consumer leader change can reach the
// connector after the record's next change; a replayed dead letter comes
// after the record's later changes, as in the bbolt outbox.
//
// Not here, unlike the bbolt outbox: a circuit breaker per connector
// (each partition backs off on its own), and Policy.Concurrency (a
// gateway delivers as many partitions at once as it holds). A plain Run
// keeps no history of attempts (logged, and counted through
// Config.OnAttempt); the Backend's deliverer does, in the messages bucket.
//
// # Backend
//
// Open connects (user and password, token or creds file; reconnecting
// for ever), and makes or updates, idempotently, everything above and:
//
//	LIAISON_CONNECTORS  c.<id> → store.Connector (JSON); n.<name, base64url> → id
//	LIAISON_META        m.<name, base64url> → Meta's value; p.<connector> → delivered messages purged
//	LIAISON_SEEN        s.<SHA-256 of connector, delivery id> → time; the bucket's TTL is the dedupe window
//	LIAISON_MESSAGES    <message id> → store.Message (JSON: body, state, attempts, last error)
//	LIAISON_AUDIT       stream, liaison.audit: store.AuditEntry (JSON); its sequence is the entry's Seq
//
// A message ID is "<connector>.<20 hex digits of SHA-256 of type, id>.<version>":
// deterministic, so the relay's re-publish is a duplicate; a key, a URL
// path segment and a table cell as it is; and "<connector>.>" selects a
// connector's messages, "*.<record>.*" a record's (SyncStates: the
// highest version per connector).
//
// UpdateConnector is read, fn, compare-and-swap on the revision, again on
// a conflict; a new or changed name is claimed first with a create of its
// n. key (store.ErrConflict when a connector that still has the name
// holds it). Changed is a watch of c.>, skipping the revisions this
// process wrote. DeleteConnector deletes the c. key, purges the
// connector's outbox subjects, deletes its consumers and the states of
// its queued and failed messages; the relay drops its messages not yet
// relayed.
//
// What each operation costs, in round trips to the servers (every write
// acknowledged by a quorum with three replicas):
//
//   - Accept: a KV get (delivery id); per change, a read of the record's
//     last version from the stream leader and one compare-and-swap
//     publish (again on a conflict); per message, one KV create (its
//     state, published together and awaited together); a KV create
//     (delivery id) and a KV put (cursor); per change, one audit publish,
//     plus with AuditMessage an outbox publish and a KV create.
//   - Relay, per change: its delivery, one outbox publish per message,
//     an acknowledgement, and a purge of the record's older versions.
//   - Delivery, per attempt: the message's delivery, an acknowledgement
//     (or a delayed negative one; dead: a dead-letter publish first), a
//     KV get and a compare-and-swap KV update of its state, and an audit
//     publish when the gateway's Audit hook gives an entry.
//   - Message: a KV get. Messages, Counts, OldestUndelivered, RetryNow:
//     one pass over the connector's message states (a KV watch the
//     server streams, about 7 µs a message here), so their cost grows
//     with the messages kept until Purge; Counts adds a KV get and a
//     stream info (dead letters). Counts and OldestUndelivered share
//     their pass, and reuse it for ten times as long as it took; a
//     connector of 10,000 states or more may lag by that much, a
//     smaller one's counts follow this process's writes at once.
//   - Audit: one short-lived consumer per 256 entries read, newest first.
//
// Not atomic, and why that is safe. Accept stores each change with one
// publish, its messages inside it, so a change and its messages are
// stored together or not at all; the message states, the delivery id,
// the cursor and the audit entries follow, each on its own. An Accept cut
// short may have applied a prefix of its batch: the caller gives no 202,
// its client sends the batch again, and the applied changes are found
// unchanged (no new version, no message). A message whose state Accept
// did not write gets one at its first attempt, from the outbox message.
// An attempt is recorded in the messages bucket first and settled in the
// stream after (acknowledged, negatively acknowledged, buried): a gateway
// dying in between leaves the message in the stream, to be sent again
// with the same idempotency key and recorded again — never a message gone
// from the stream whose state still says queued. An attempt that cannot
// be recorded is not settled: the message comes again.
// Counts read Delivered as the states plus the purged count, which Purge
// raises before it deletes: an interrupted purge can only overcount.
//
// What the Backend does not do as bbolt does: Replay puts a dead message
// at the end of its partition, not back in its original place; RetryNow
// deletes the consumers holding failed messages (see RetryNow), which
// may send a message being sent at that moment once more; deliveries do
// not touch the connector's LastSyncAt and LastError (a write per
// delivery to the connectors bucket would wake every gateway's Changed);
// a record's sync state lasts as long as its latest message's state
// (Purge removes delivered ones after the retention).
package jetstream
