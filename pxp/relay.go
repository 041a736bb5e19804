package pxp

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/seed0021ed4d/pex/internal/jsonscan"
	"github.com/seed0021ed4d/pex/mux"
	"github.com/seed0021ed4d/pex/pxp/wire"
)

// Candidate is one entry of a getpeers response.
type Candidate struct {
	ID          string          `json:"id"`
	Network     string          `json:"network"`
	ConnectInfo json.RawMessage `json:"connectInfo"`
}

// servedState is what this node, as a relay, has handed one link's peer:
// the live candidate ids and the relays it asked for, pending or spliced.
// It is guarded by Peer.mu.
type servedState struct {
	candidates map[string]candidate
	order      []string // the candidate ids in the order they were handed out
	relays     int
	incoming   int // introductions it brought that are still handshaking or upgrading
}

// maxIDLen bounds candidate and relay ids taken from the wire; the
// reference's are 8 hex characters.
const maxIDLen = 64

// onGetPeers answers with a bounded random selection of our other peers.
func (p *Peer) onGetPeers(m wire.Message) error {
	network, err := jsonscan.DecodeString(m.Args)
	if err != nil {
		return &ProtocolError{Reason: "getpeers argument is not a string"}
	}
	if network != p.ex.network {
		p.refuse(wire.CmdGetPeers, m.Nonce, "request", "Peer requested an unknown network:%q", network)
		return nil
	}
	if p.ex.cfg.chosenCandidates != nil { // the lab's attackers (labhooks.go)
		p.answerChosen(m.Nonce, network)
		return nil
	}
	peers := p.ex.candidatesFor(p)
	now := time.Now()
	out := make([]Candidate, len(peers))
	ids := randomHexRun(4, len(peers))
	compact := true
	for i, q := range peers {
		// Each candidate's lock is taken before ours, never under it: two
		// peers answering each other's getpeers at once would otherwise
		// each hold its own lock and wait for the other's.
		ci, ok := q.connectInfoShared()
		out[i] = Candidate{ID: ids[8*i : 8*i+8], Network: network, ConnectInfo: ci}
		compact = compact && ok
	}
	p.mu.Lock()
	if p.served.candidates == nil { // the link closed while this request was read
		p.mu.Unlock()
		return nil
	}
	p.served.retire(now, len(peers), p.ex.cfg.MaxCandidateIDs)
	for i, q := range peers {
		p.served.candidates[out[i].ID] = candidate{peer: q, expires: now.Add(p.ex.cfg.CandidateTTL)}
		p.served.order = append(p.served.order, out[i].ID)
	}
	p.mu.Unlock()
	p.ex.counts.add(func(c *counters) { c.getPeers++ })
	if sent, err := p.sendCandidates(m.Nonce, out, compact); sent {
		if err != nil {
			p.closeWith(err)
		}
		return nil
	}
	p.respond(m.Nonce, []any{nil, out})
	return nil
}

// retire drops the expired candidate ids, and the oldest live ones while
// fewer than room more would fit under max: the budget bounds what a
// peer's ids cost, not how often it may ask (GetPeersRate does).
func (sv *servedState) retire(now time.Time, room, max int) {
	drop := 0
	for _, id := range sv.order {
		c, ok := sv.candidates[id]
		if ok && !now.After(c.expires) && len(sv.candidates)+room <= max {
			break
		}
		delete(sv.candidates, id)
		drop++
	}
	sv.order = sv.order[drop:]
	if len(sv.order) == 0 {
		sv.order = nil // let the array go
	}
}

func parseIDArg(args json.RawMessage, cmd string) (string, error) {
	var a []string
	if json.Unmarshal(args, &a) != nil || len(a) != 1 || a[0] == "" || len(a[0]) > maxIDLen {
		return "", &ProtocolError{Reason: cmd + " argument is not [id]"}
	}
	return a[0], nil
}

// onRelay splices the asker to a candidate it was given (we are the relay).
func (p *Peer) onRelay(m wire.Message) error {
	id, err := parseIDArg(m.Args, wire.CmdRelay)
	if err != nil {
		return err
	}
	if p.via != nil {
		// A relayed session asking to relay again would chain relays
		// (and could loop them).
		p.refuse(wire.CmdRelay, m.Nonce, "request", "no relaying over a relayed session")
		return nil
	}
	p.mu.Lock()
	c, ok := p.served.candidates[id]
	if ok {
		delete(p.served.candidates, id)
	}
	asker := p.remote.id
	p.mu.Unlock()
	if ok && time.Now().After(c.expires) {
		ok = false
	}
	// The candidate's lock is never taken under ours (see onGetPeers).
	if ok && (c.peer == p || c.peer.via != nil || (asker != "" && c.peer.ID() == asker)) {
		ok = false // to the asker itself, or into a chain of relays
	}
	p.mu.Lock()
	busy := p.served.relays >= p.ex.cfg.MaxRelaysPerPeer
	if ok && !busy {
		p.served.relays++
	}
	p.mu.Unlock()
	if !ok {
		p.refuse(wire.CmdRelay, m.Nonce, "request", "Peer requested unknown candidate: id=%s", id)
		return nil
	}
	if busy {
		p.refuse(wire.CmdRelay, m.Nonce, "relays-per-peer", "too many relays for one peer")
		return nil
	}
	e := p.ex
	e.mu.Lock()
	prefix := p.slot.prefix
	full := e.relays >= e.cfg.MaxRelays
	crowded := e.relaysByPrefix[prefix] >= e.cfg.MaxRelaysPerPrefix
	if !full && !crowded {
		e.relays++
		e.relaysByPrefix[prefix]++
	}
	e.mu.Unlock()
	if full || crowded {
		p.mu.Lock()
		p.served.relays--
		p.mu.Unlock()
		if crowded {
			p.refuse(wire.CmdRelay, m.Nonce, "relays-per-prefix", "relay limit for your network reached")
		} else {
			p.refuse(wire.CmdRelay, m.Nonce, "relays", "relay limit reached")
		}
		return nil
	}
	src, err := p.sess.Stream(wire.RelayPrefix + id)
	if err != nil {
		e.relayDone(p)
		p.refuse(wire.CmdRelay, m.Nonce, "request", "relay %s already in progress", id)
		return nil
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		if !p.relayTo(m.Nonce, src, c.peer) {
			e.relayDone(p)
		}
	}()
	return nil
}

// relayDone releases the relay slots one relay for asker held.
func (e *Exchange) relayDone(asker *Peer) {
	e.mu.Lock()
	e.relays--
	if e.relaysByPrefix[asker.slot.prefix]--; e.relaysByPrefix[asker.slot.prefix] <= 0 {
		delete(e.relaysByPrefix, asker.slot.prefix)
	}
	e.mu.Unlock()
	asker.mu.Lock()
	asker.served.relays--
	asker.mu.Unlock()
}

// relayTo asks dest to take an incoming relay and, once it agrees, splices
// src to it and answers the asker. It reports whether the splice started
// (then the splice releases the relay slot).
func (p *Peer) relayTo(nonce string, src *mux.Stream, dest *Peer) bool {
	e := p.ex
	rid := randomHex(4)
	dst, err := dest.sess.Stream(wire.RelayPrefix + rid)
	if err != nil {
		src.Close()
		p.refuse(wire.CmdRelay, nonce, "destination", "relay destination is gone")
		return false
	}
	arg, _ := json.Marshal([]string{rid})
	res, err := dest.request(e.ctx, wire.CmdIncoming, arg)
	if err == nil {
		err = responseError(wire.CmdIncoming, res)
	}
	if err != nil {
		// Offered no more until it answers an introduction again: a peer
		// that never takes one (a sybil sitting idle) stops costing askers
		// a request timeout each.
		dest.unresponsive.Store(true)
		src.Close()
		dst.Close()
		p.refuse(wire.CmdRelay, nonce, "destination", "relay destination did not accept: %v", err)
		return false
	}
	dest.unresponsive.Store(false)
	// Answer the asker before a byte of the destination's nested session
	// can reach it: the reference drops data on a stream it is not yet
	// waiting for (B2), and the destination starts its session at once.
	p.respond(nonce, nil)
	e.counts.add(func(c *counters) { c.relaysStarted++ })
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer e.relayDone(p)
		e.splice(src, dst, p, dest)
	}()
	return true
}

// onIncoming accepts an introduction: answer first, then run a nested PXP
// session as the incoming side over the relay stream (B2: the answer must
// precede the nested bytes).
func (p *Peer) onIncoming(m wire.Message) error {
	id, err := parseIDArg(m.Args, wire.CmdIncoming)
	if err != nil {
		return err
	}
	e := p.ex
	if e.cfg.RefuseIncoming {
		p.refuse(wire.CmdIncoming, m.Nonce, "incoming", "this node does not accept incoming connections")
		return nil
	}
	if p.via != nil {
		p.refuse(wire.CmdIncoming, m.Nonce, "request", "no introductions over a relayed session")
		return nil
	}
	e.mu.Lock()
	full := e.pendingIncoming >= e.cfg.MaxPendingIncoming
	p.mu.Lock()
	busy := p.served.incoming >= e.cfg.MaxPendingIncomingPerPeer
	if !full && !busy {
		e.pendingIncoming++
		p.served.incoming++
	}
	p.mu.Unlock()
	e.mu.Unlock()
	if full || busy {
		p.refuse(wire.CmdIncoming, m.Nonce, "introductions", "too many introductions in progress")
		return nil
	}
	st, err := p.sess.Stream(wire.RelayPrefix + id)
	if err != nil {
		e.incomingDone(p)
		p.refuse(wire.CmdIncoming, m.Nonce, "request", "relay %s already open", id)
		return nil
	}
	p.respond(m.Nonce, nil)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer e.incomingDone(p)
		np, err := e.startLink(st, "relay", false, p, false, false)
		if err != nil {
			return
		}
		ctx, cancel := e.handshakeContext(context.Background())
		c, err := np.establish(ctx)
		cancel()
		if err != nil {
			np.closeWith(err)
			e.emit(Event{Type: EventError, Peer: np, Err: err})
			return
		}
		if c.Peer() != np {
			// Upgraded: the relayed session has done its work. Closing
			// it sends END only (B1).
			np.closeWith(ErrClosed)
		}
		if !e.deliverIncoming(c) {
			c.Peer().closeWith(errors.New("pxp: introduction refused: Incoming channel full"))
			return
		}
		e.emit(Event{Type: EventConnect, Peer: c.Peer(), Conn: c})
	}()
	return nil
}

func (e *Exchange) incomingDone(via *Peer) {
	e.mu.Lock()
	e.pendingIncoming--
	e.mu.Unlock()
	via.mu.Lock()
	via.served.incoming--
	via.mu.Unlock()
}
