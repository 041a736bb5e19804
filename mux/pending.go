package mux

import (
	"strconv"
	"time"
)

type pendingChan struct {
	ch     uint64
	data   []byte
	eof    bool
	err    error
	expiry *time.Timer // drops it after PendingTimeout
}

// open handles a peer's NEW frame. Called with s.mu held.
func (s *Session) open(ch uint64, payload []byte) {
	name := string(payload)
	if name == "" {
		name = strconv.FormatUint(ch, 10)
	}
	s.cfg.Logger.Debug("mux: peer opened", "channel", ch, "name", name)
	if old := s.remote[ch]; old != nil {
		// The peer reused an id without ending it: the old channel is over.
		delete(s.remote, ch)
		if old.st != nil {
			old.st.rEOF = true
			s.wakeLocked()
		}
	}
	if st := s.names[name]; st != nil {
		if st.bound {
			s.cfg.Logger.Debug("mux: ignoring second channel for a bound name", "name", name)
			return
		}
		st.bound, st.remoteCh = true, ch
		s.remote[ch] = &remoteChan{name: name, st: st}
		return
	}
	if _, dup := s.pending[name]; dup || len(s.pending) >= s.cfg.MaxPendingStreams {
		s.cfg.Logger.Debug("mux: ignoring unrequested stream", "name", name)
		return
	}
	p := &pendingChan{ch: ch}
	// Expiry runs on its own timer: an unclaimed stream's bytes are freed
	// after PendingTimeout whether or not anything else arrives.
	p.expiry = time.AfterFunc(s.cfg.PendingTimeout, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.pending[name] == p {
			s.cfg.Logger.Debug("mux: unclaimed stream expired", "name", name)
			s.dropPendingLocked(name, p, true)
		}
	})
	s.pending[name] = p
	s.remote[ch] = &remoteChan{name: name, pend: p}
}

// dropPendingLocked forgets an unclaimed stream: claimed by Stream, or, with
// discard, dropped with its channel (later frames on it are ignored).
func (s *Session) dropPendingLocked(name string, p *pendingChan, discard bool) {
	delete(s.pending, name)
	p.expiry.Stop()
	s.cfg.PendingBudget.give(len(p.data))
	if discard {
		p.data = nil
		if rc := s.remote[p.ch]; rc != nil && rc.pend == p {
			delete(s.remote, p.ch)
		}
	}
}
