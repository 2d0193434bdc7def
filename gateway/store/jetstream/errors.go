package jetstream

import (
	"errors"

	"github.com/liaisonhq/liaison/gateway/store"
)

var (
	// ErrConnectorName is returned (wrapped) for a connector id that is not
	// letters, digits, '-' and '_' only: it must be a subject token, part
	// of a consumer name and of a key. The caller picks another id.
	ErrConnectorName = errors.New("letters, digits, '-' and '_' only")

	// ErrPartitionsChanged is returned by Ensure when the deployment's
	// recorded partition count differs from Config.Partitions: changing it
	// moves records to other partitions and breaks their order. Drain the
	// outbox and delete the key config.partitions of the control bucket
	// first, or keep the count.
	ErrPartitionsChanged = errors.New("partition count differs from the deployment's")

	// ErrBadMessage is returned (wrapped) by Publish for a message it
	// cannot carry: no id, a connector that is not a token, or a header
	// value with a line break. Nothing of the batch was published when
	// it is returned; the caller answers 4xx or fixes its code.
	ErrBadMessage = errors.New("bad message")

	// ErrNotFound is returned by Replay when an id given is not a dead
	// letter of the connector, and by the Backend as store.ErrNotFound,
	// which it is.
	ErrNotFound = store.ErrNotFound
)

var (
	// ErrConflict is returned (wrapped) by Changes.Apply when other
	// writers changed the record every time it tried, maxApplyAttempts
	// times in a row. Nothing of this call was stored; the caller answers
	// 409 or 503 and its client tries again.
	ErrConflict = errors.New("record changed concurrently")

	// ErrBadRecord is returned (wrapped) by Changes.Apply for a record
	// without a type or an id.
	ErrBadRecord = errors.New("bad record")
)
