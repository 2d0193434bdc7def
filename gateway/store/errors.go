package store

import "errors"

var (
	// ErrLocked is returned by Open when another process holds the data
	// directory. The caller exits with a clear message: one process owns a
	// data directory at a time.
	ErrLocked = errors.New("the data directory is in use by another process")

	// ErrNotFound is returned when a connector, record or message does not
	// exist. The HTTP layer answers 404.
	ErrNotFound = errors.New("not found")

	// ErrClosed is returned by Update after Close.
	ErrClosed = errors.New("store closed")

	// ErrConflict is returned when a write would break a uniqueness rule,
	// such as a second connector with the same name. The HTTP layer answers 409.
	ErrConflict = errors.New("conflict")
)
