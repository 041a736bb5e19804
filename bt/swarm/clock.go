package swarm

import (
	"math"
	"time"
)

// Clock is the time a swarm's protocol runs on: BEP 11's interval between
// PEX messages, the flood rules applied to peers' PEX messages, dial
// backoffs and redials, connections' ages, event times.
// Nil in Config means real time. A simulation gives a clock that runs
// faster than real time (internal/sim runs BEP 11's minute in a second),
// so that a swarm's hours take its minutes.
//
// Connection deadlines (handshake, idle and write timeouts), the
// keep-alives that satisfy peers' idle timeouts, the rate limits that
// guard against floods of messages and connections, and PEXSettleDelay
// (pex's own batching of changes, not a protocol timer) stay in real
// time: they bound work, keep links alive and batch; they are not the
// protocol's pace. (Measured in internal/sim: a settle delay scaled down
// with the clock, 17 ms at 60 times, sends first PEX messages before a
// peer's connections are made, and the least-informed peer of a small
// swarm ends at 79 % of it instead of 97 %.)
type Clock interface {
	// Now is the protocol's present.
	Now() time.Time
	// Real is how long d of protocol time lasts in real time, for the
	// timers that wait it out.
	Real(d time.Duration) time.Duration
}

// realClock is real time.
type realClock struct{}

func (realClock) Now() time.Time                     { return time.Now() }
func (realClock) Real(d time.Duration) time.Duration { return d }

// ScaledClock runs Scale times faster than real time from Start: a
// protocol minute lasts a real second at Scale 60.
type ScaledClock struct {
	Start time.Time
	Scale float64
}

// Now is Start plus Scale times the real time since.
func (c ScaledClock) Now() time.Time {
	return c.Start.Add(time.Duration(float64(time.Since(c.Start)) * c.Scale))
}

// Real divides d by Scale, rounding up: a timer for a protocol time still
// to come never fires before it.
func (c ScaledClock) Real(d time.Duration) time.Duration {
	return time.Duration(math.Ceil(float64(d) / c.Scale))
}

// now is the protocol's present, on the swarm's clock.
func (s *Swarm) now() time.Time { return s.cfg.Clock.Now() }

// protocol converts real time to protocol time on the swarm's clock.
func (s *Swarm) protocol(d time.Duration) time.Duration {
	r := s.cfg.Clock.Real(time.Second)
	if r <= 0 {
		return d
	}
	return time.Duration(float64(d) * float64(time.Second) / float64(r))
}

// real converts protocol time to real time on the swarm's clock.
func (s *Swarm) real(d time.Duration) time.Duration { return s.cfg.Clock.Real(d) }
