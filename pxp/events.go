package pxp

import (
	"fmt"
	"time"
)

// EventType says what an Event reports.
type EventType int

// Event types.
const (
	// EventPeer: a link passed its handshake and joined the peer list.
	EventPeer EventType = iota + 1
	// EventConnect: a data stream opened on a link this node opened
	// (Connect, GetNewPeer) or on one introduced to it; links that came
	// in through Accept or Serve have none. Conn is set, for reference
	// only: the stream is the one the call returns or Incoming delivers.
	EventConnect
	// EventDisconnect: a peer left the peer list (Err says why, nil for a
	// clean close).
	EventDisconnect
	// EventError: something went wrong that did not end the Exchange: a
	// handshake that failed, a refused request, a link closed for bad input.
	EventError
	// EventObserved: peers agree on a new address they see this node at
	// (Exchange.Observed).
	EventObserved
)

func (t EventType) String() string {
	switch t {
	case EventPeer:
		return "peer"
	case EventConnect:
		return "connect"
	case EventDisconnect:
		return "disconnect"
	case EventError:
		return "error"
	case EventObserved:
		return "observed"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event is something that happened in an Exchange. Events are delivered on
// a buffered channel and dropped when it is full; they never block the
// protocol.
type Event struct {
	Type EventType
	Peer *Peer // may be nil for errors before a link exists
	Conn *Conn // EventConnect only
	Err  error
	Time time.Time
}

func (e *Exchange) emit(ev Event) {
	ev.Time = time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed && ev.Type != EventDisconnect {
		return
	}
	if e.chansClosed {
		return
	}
	select {
	case e.events <- ev:
	default:
		e.dropped.Add(1)
	}
}
