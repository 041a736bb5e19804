package pxp

import (
	"context"
	"errors"
	"time"
)

// A relay's standing: a peer asked for candidates that brings no new link,
// time after time, is no longer asked. A relay that never relays (it
// refuses every relay request), or names candidates it then refuses to
// introduce, or names only peers this node has or cannot reach, costs
// each GetNewPeer a round trip and takes the place of a relay that might
// have helped: after Config.RelayFailures introductions in a row through
// one link that ended in no link, GetNewPeer leaves that link out for
// Config.RelayBackoff; asked again after that, one more failure holds it
// back again for twice as long, up to MaxRelayBackoff; an introduction
// through it that ends in a link restores it. The count is kept per link (slotInfo), so a relay that
// reconnects starts afresh, and a node whose every relay is held back
// still asks them: standing orders the relays, it never leaves a node
// with no one to ask.

// relayStanding is one link's record as a relay; guarded by Exchange.mu.
type relayStanding struct {
	fails int       // introductions through it in a row that ended in no link
	until time.Time // not asked (while others can be) before
	held  int       // times it was held back since its last success
}

// inStandingLocked reports whether q may be asked for candidates now.
func (e *Exchange) inStandingLocked(q *Peer, now time.Time) bool {
	return e.cfg.RelayFailures < 0 || !now.Before(q.slot.standing.until)
}

// relayOutcome records how an introduction through via ended: err nil is
// a new link. Failures that say nothing of via are not counted: the
// caller gave up, this node is full or closing, via's link dropped, or
// every candidate it named lay in a prefix this node holds enough of.
func (e *Exchange) relayOutcome(ctx context.Context, via *Peer, err error) {
	if e.cfg.RelayFailures < 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.peers[via]; !ok {
		return
	}
	s := &via.slot.standing
	if err == nil {
		*s = relayStanding{}
		return
	}
	if ctx.Err() != nil || e.ctx.Err() != nil || via.Err() != nil || errors.Is(err, ErrTooManyPeers) || errors.Is(err, ErrClosed) {
		return
	}
	// Back from being held, one more failure holds it again.
	if s.fails++; s.fails < e.cfg.RelayFailures && s.held == 0 {
		return
	}
	d := e.cfg.RelayBackoff << min(s.held, 20)
	if d <= 0 || d > e.cfg.MaxRelayBackoff {
		d = e.cfg.MaxRelayBackoff
	}
	s.fails = 0
	s.held++
	s.until = time.Now().Add(d)
	e.cfg.Logger.Debug("pxp: relay held back", "relay", via.String(), "for", d)
}
