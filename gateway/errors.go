package gateway

import "errors"

// ErrRunning is returned by Run and Serve when the gateway is already
// serving or has served: a Gateway serves once. The caller builds a new one
// with New.
var ErrRunning = errors.New("gateway: already started")
