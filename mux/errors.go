package mux

import (
	"errors"
	"fmt"
)

// Errors returned by sessions and streams.
var (
	// ErrSessionClosed is returned for operations on a closed session.
	ErrSessionClosed = errors.New("mux: session closed")
	// ErrStreamExists is returned by Session.Stream for a name already open.
	ErrStreamExists = errors.New("mux: stream name already open")
	// ErrStreamStalled ends a stream whose buffer was full and whose
	// reader took nothing for Config.StallTimeout; the session and its
	// other streams go on.
	ErrStreamStalled = errors.New("mux: stream stalled (its reader stopped reading)")
	// ErrWriteClosed is returned by Write after CloseWrite.
	ErrWriteClosed = errors.New("mux: write after end of stream")
)

// StreamError is a peer's ERROR frame on one channel. It ends that stream only.
type StreamError struct {
	Name    string
	Message string
}

func (e *StreamError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "Channel destroyed"
	}
	return fmt.Sprintf("mux: stream %q destroyed by peer: %s", e.Name, msg)
}
