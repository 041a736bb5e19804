package pxp

import (
	"context"
	"errors"
	"maps"
	"sync"
	"time"
)

// Stats are counters of an Exchange: a snapshot, taken by Exchange.Stats.
// The maps are copies the caller may keep.
type Stats struct {
	Peers            int    // connected peers
	Outbound         int    // of them, links this node opened (Connect, GetNewPeer)
	Relays           int    // relayed pairs being carried now
	MessagesSent     uint64 // control messages sent, on every link
	MessagesReceived uint64 // control messages received, on every link
	BytesSent        uint64 // bytes written to transports given to Connect and Accept
	BytesReceived    uint64 // bytes read from them
	RelayedBytes     uint64 // bytes carried for relayed pairs
	EventsDropped    uint64 // events that found the Events channel full

	// Links counts the connected peers by transport ("tcp", "ws",
	// "webrtc", "relay").
	Links map[string]int
	// RelaysStarted counts the relayed pairs this node has spliced.
	RelaysStarted uint64
	// GetPeersServed counts the getpeers requests answered with candidates.
	GetPeersServed uint64
	// Introductions counts GetNewPeer's results by outcome: the transport
	// of the new link ("tcp", "webrtc", "relay", ...) or "failed".
	Introductions map[string]uint64
	// IntroductionFailures counts failed GetNewPeer calls by reason (see
	// FailureReason).
	IntroductionFailures map[string]uint64
	// IntroductionSeconds is the time GetNewPeer took, successful or not.
	IntroductionSeconds Histogram
	// Refusals counts requests this node refused, by the limit that
	// refused them (see the Config fields named in each): "peers"
	// (MaxPeers), "rate" (RequestRate, GetPeersRate), "relays"
	// (MaxRelays), "relays-per-peer" (MaxRelaysPerPeer),
	// "relays-per-prefix" (MaxRelaysPerPrefix), "introductions"
	// (MaxPendingIncoming, MaxPendingIncomingPerPeer), "dialbacks"
	// (MaxDialBacks), "incoming" (RefuseIncoming), "destination" (the
	// introduced peer did not take the relay), or "request" for requests
	// refused as invalid rather than over a limit.
	Refusals map[string]uint64
	// ProtocolErrors counts links closed for what their peer sent, by
	// kind: "invalid-message", "flood", "bad-magic", "version",
	// "network", "handshake-timeout", "request-timeout".
	ProtocolErrors map[string]uint64
}

// Histogram is a distribution of durations in seconds over fixed buckets:
// Counts[i] counts the observations at most Bounds[i] (and above the
// bound before it); the last element of Counts counts those above every
// bound. Counts are not cumulative.
type Histogram struct {
	Bounds []float64
	Counts []uint64
	Sum    float64 // seconds
	Count  uint64
}

// IntroductionBuckets are the bounds, in seconds, of
// Stats.IntroductionSeconds: from a loopback relay to a TURN-relayed
// WebRTC link across two NATs.
var IntroductionBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

func (h *Histogram) observe(sec float64) {
	if h.Counts == nil {
		h.Bounds = IntroductionBuckets
		h.Counts = make([]uint64, len(IntroductionBuckets)+1)
	}
	i := 0
	for i < len(h.Bounds) && sec > h.Bounds[i] {
		i++
	}
	h.Counts[i]++
	h.Sum += sec
	h.Count++
}

func (h Histogram) clone() Histogram {
	if h.Counts == nil {
		h.Bounds = IntroductionBuckets
		h.Counts = make([]uint64, len(IntroductionBuckets)+1)
		return h
	}
	h.Counts = append([]uint64(nil), h.Counts...)
	return h
}

// counters are the exchange's rarer counts, kept under their own lock so
// that counting never waits on the exchange's.
type counters struct {
	mu             sync.Mutex
	getPeers       uint64
	relaysStarted  uint64
	intros         map[string]uint64
	introFailures  map[string]uint64
	introSeconds   Histogram
	refusals       map[string]uint64
	protocolErrors map[string]uint64
}

func bump(m *map[string]uint64, k string) {
	if *m == nil {
		*m = make(map[string]uint64)
	}
	(*m)[k]++
}

func (c *counters) add(f func(c *counters)) {
	c.mu.Lock()
	f(c)
	c.mu.Unlock()
}

func (c *counters) introduction(transport string, d time.Duration, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		bump(&c.intros, "failed")
		bump(&c.introFailures, FailureReason(err))
	} else {
		bump(&c.intros, transport)
	}
	c.introSeconds.observe(d.Seconds())
}

func (c *counters) fill(st *Stats) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st.GetPeersServed = c.getPeers
	st.RelaysStarted = c.relaysStarted
	st.Introductions = maps.Clone(c.intros)
	st.IntroductionFailures = maps.Clone(c.introFailures)
	st.IntroductionSeconds = c.introSeconds.clone()
	st.Refusals = maps.Clone(c.refusals)
	st.ProtocolErrors = maps.Clone(c.protocolErrors)
}

// FailureReason names why a GetNewPeer call failed, in a few words fit
// for a metric label: "no-peers", "no-candidates", "refused" (a relay
// or the candidate said no), "peer-full", "timeout", "closed", "canceled"
// or "other".
func FailureReason(err error) string {
	var re *RemoteError
	switch {
	case errors.Is(err, ErrNoPeers):
		return "no-peers"
	case errors.Is(err, ErrNoCandidates):
		return "no-candidates"
	case errors.Is(err, ErrPeerFull):
		return "peer-full"
	case errors.As(err, &re):
		return "refused"
	case errors.Is(err, ErrClosed):
		return "closed"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, ErrRequestTimeout), errors.Is(err, ErrHandshakeTimeout):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "other"
}

// protocolErrorKind names err's kind when it is the peer's fault, "" when
// it is not.
func protocolErrorKind(err error) string {
	var pe *ProtocolError
	switch {
	case errors.As(err, &pe):
		return "invalid-message"
	case errors.Is(err, ErrFlood):
		return "flood"
	case errors.Is(err, ErrNetworkKey):
		return "network-key"
	case errors.Is(err, ErrBadMagic):
		return "bad-magic"
	case errors.Is(err, ErrVersionMismatch):
		return "version"
	case errors.Is(err, ErrNetworkMismatch):
		return "network"
	case errors.Is(err, ErrHandshakeTimeout):
		return "handshake-timeout"
	case errors.Is(err, ErrRequestTimeout):
		return "request-timeout"
	}
	return ""
}
