package pxp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/seed0021ed4d/pex/internal/jsonscan"
	"github.com/seed0021ed4d/pex/pxp/wire"
)

// GetPeers asks peer for candidates (the getpeers request).
func (p *Peer) GetPeers(ctx context.Context) ([]Candidate, error) {
	res, err := p.request(ctx, wire.CmdGetPeers, jsonscan.AppendString(nil, p.ex.network))
	if err != nil {
		return nil, err
	}
	var room [2]json.RawMessage // [error, candidates]: none allocated
	parts, err := jsonscan.DecodeArray(res, room[:0])
	if err != nil || len(parts) == 0 {
		return nil, &ProtocolError{Reason: "getpeers response is not an array"}
	}
	if !isNull(parts[0]) && string(parts[0]) != "false" {
		msg, err := jsonscan.DecodeString(parts[0])
		if err != nil {
			msg = string(truncate(parts[0], 200))
		}
		return nil, &RemoteError{Command: wire.CmdGetPeers, Message: msg}
	}
	if len(parts) < 2 {
		return nil, &ProtocolError{Reason: "peer sent invalid response to getpeers"}
	}
	cands, ok := decodeCandidates(parts[1], p.ex.network)
	if !ok {
		return nil, &ProtocolError{Reason: "peer sent invalid response to getpeers"}
	}
	for _, c := range cands {
		if c.ID == "" || c.Network == "" {
			return nil, &ProtocolError{Reason: "peer sent invalid candidate peer"}
		}
	}
	return cands, nil
}

// GetNewPeer asks connected peers for candidates and connects to one this
// node is not connected to yet, through the peer that offered it. It tries
// up to four peers in random order, spread across network prefixes, and up
// to three of the candidates each offers, keeping to
// Config.MaxOutboundPerRelay and MaxOutboundPerPrefix (outbound.go). The
// result is a direct TCP link when the candidate advertises an address,
// Config.Dialer is set and the dial policy allows it (directdial.go), an
// upgraded link when Config.Upgrader is set and the candidate takes it,
// and otherwise the relayed session itself (Transport "relay").
func (e *Exchange) GetNewPeer(ctx context.Context) (*Conn, error) {
	start := time.Now()
	c, err := e.getNewPeer(ctx)
	if !errors.Is(err, ErrClosed) {
		transport := ""
		if c != nil {
			transport = c.Transport()
		}
		e.counts.introduction(transport, time.Since(start), err)
	}
	return c, err
}

func (e *Exchange) getNewPeer(ctx context.Context) (*Conn, error) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, ErrClosed
	}
	// Up to four relays, at random and from different prefixes first: a
	// crowd of links from one /24 cannot be every relay asked; none that
	// introduced MaxOutboundPerRelay of this node's links while others
	// can (outbound.go). Relayed sessions cannot relay (no chains).
	relays, capped := e.relaysLocked()
	e.mu.Unlock()
	if len(relays)+len(capped) == 0 {
		return nil, ErrNoPeers
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(e.ctx, cancel)
	defer stop()
	var lastErr error = ErrNoCandidates
	var crowded []offered // candidates in prefixes at MaxOutboundPerPrefix
	for _, via := range relays {
		if ctx.Err() != nil {
			break
		}
		c, more, err := e.introduceVia(ctx, via, false)
		if err == nil {
			return c, nil
		}
		crowded = append(crowded, more...)
		lastErr = err
		e.cfg.Logger.Debug("pxp: getNewPeer attempt failed", "via", via.String(), "err", err)
	}
	// No relay offered a candidate elsewhere: one in a crowded prefix
	// will do.
	if c, err := e.introduceCrowded(ctx, crowded); c != nil || err != nil {
		if err == nil {
			return c, nil
		}
		lastErr = err
	}
	// Nor did any relay under its cap give a link: those at it may.
	for _, via := range capped {
		if ctx.Err() != nil {
			break
		}
		c, _, err := e.introduceVia(ctx, via, true)
		if err == nil {
			return c, nil
		}
		lastErr = err
		e.cfg.Logger.Debug("pxp: getNewPeer attempt failed", "via", via.String(), "err", err)
	}
	if ctx.Err() != nil && e.ctx.Err() != nil {
		return nil, ErrClosed
	}
	return nil, lastErr
}

// introduceVia asks via for candidates and tries up to three of them; it
// returns those it passed over for being in a prefix that holds
// MaxOutboundPerPrefix of this node's outgoing links. With last (via is at
// its MaxOutboundPerRelay, asked when no other relay gave a link) it
// passes over none: those come after the others.
func (e *Exchange) introduceVia(ctx context.Context, via *Peer, last bool) (*Conn, []offered, error) {
	release, ok := e.reserveRelay(via, last)
	if !ok {
		return nil, nil, fmt.Errorf("%w: %s introduced MaxOutboundPerRelay of this node's links", ErrNoCandidates, via)
	}
	defer release()
	cands, err := via.GetPeers(ctx)
	if err != nil {
		e.relayOutcome(ctx, via, err)
		return nil, nil, err
	}
	usable := make([]offered, 0, len(cands)) // one array, not grown step by step
	for _, c := range cands {
		ci := parseConnectInfo(c.ConnectInfo)
		if !ci.accepting || c.Network != e.network || e.knows(ci.id) || len(c.ID) > maxIDLen {
			continue // B3: null connectInfo is skipped, not fatal
		}
		usable = append(usable, offered{Candidate: c, ci: ci, via: via})
	}
	if len(usable) == 0 {
		err := fmt.Errorf("%w from %s", ErrNoCandidates, via)
		e.relayOutcome(ctx, via, err)
		return nil, nil, err
	}
	// A Go relay (it names itself with an id) orders its candidates one
	// per prefix first: try them in that order. A JS relay lists all its
	// peers in the same order every time: try them at random.
	if via.ID() == "" {
		e.mu.Lock()
		e.rng.Shuffle(len(usable), func(i, j int) { usable[i], usable[j] = usable[j], usable[i] })
		e.mu.Unlock()
	}
	usable, crowded := e.spreadByPrefix(usable)
	if last {
		usable, crowded = append(usable, crowded...), nil
	}
	if len(usable) == 0 {
		return nil, crowded, fmt.Errorf("%w from %s outside prefixes holding MaxOutboundPerPrefix of this node's links", ErrNoCandidates, via)
	}
	for i, u := range usable {
		if i == maxCandidatesTried {
			break
		}
		if ctx.Err() != nil {
			return nil, nil, ctxErr(ctx)
		}
		var conn *Conn
		if conn, err = e.introduceOffered(ctx, u); err == nil {
			e.relayOutcome(ctx, via, nil)
			return conn, nil, nil
		}
		if via.Err() != nil {
			break // the relay is gone
		}
		e.cfg.Logger.Debug("pxp: candidate failed", "via", via.String(), "err", err)
	}
	e.relayOutcome(ctx, via, err)
	return nil, crowded, err
}

// Bounds of one GetNewPeer.
const (
	maxRelaysAsked     = 4 // peers asked for candidates
	maxCandidatesTried = 3 // candidates tried from one peer's answer
)

// introduceTo connects to candidate c offered by via: directly when it
// advertises a TCP address, else through via, upgraded when both can.
func (e *Exchange) introduceTo(ctx context.Context, via *Peer, c Candidate, ci connectInfo) (*Conn, error) {
	if ci.tcp != "" && e.cfg.Dialer != nil {
		conn, err := e.dialAdvertised(ctx, ci.tcp)
		if err == nil {
			return conn, nil
		}
		e.cfg.Logger.Debug("pxp: direct dial failed, introducing through the relay", "addr", ci.tcp, "err", err)
	}
	st, err := via.sess.Stream(wire.RelayPrefix + c.ID)
	if err != nil {
		return nil, err
	}
	arg, _ := json.Marshal([]string{c.ID})
	res, err := via.request(ctx, wire.CmdRelay, arg)
	if err == nil {
		err = responseError(wire.CmdRelay, res)
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	hctx, hcancel := e.handshakeContext(ctx)
	defer hcancel()
	p, err := e.startLink(st, "relay", true, via, false, false)
	if err != nil {
		return nil, err
	}
	if err := p.waitHello(hctx); err != nil {
		p.closeWith(err)
		return nil, err
	}
	if up := e.cfg.Upgrader; up != nil && ci.webrtc {
		conn, err := p.upgradeOut(hctx, up)
		if err == nil {
			p.closeWith(ErrClosed) // END only (B1)
			return conn, nil
		}
		if hctx.Err() != nil || p.Err() != nil {
			p.closeWith(err)
			return nil, err
		}
		e.cfg.Logger.Debug("pxp: upgrade failed, keeping the relayed session", "err", err)
		e.emit(Event{Type: EventError, Peer: p, Err: err})
	}
	conn, err := p.connectData(hctx)
	if err != nil {
		p.closeWith(err)
		return nil, err
	}
	return conn, nil
}

// dialDirect connects to a candidate's advertised TCP address.
func (e *Exchange) dialDirect(ctx context.Context, addr string) (*Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "0" || host == "" {
		return nil, fmt.Errorf("pxp: unusable advertised address %q", addr)
	}
	if ip := net.ParseIP(host); ip != nil && (ip.IsUnspecified() || ip.IsMulticast()) {
		return nil, fmt.Errorf("pxp: unusable advertised address %q", addr)
	}
	hctx, cancel := e.handshakeContext(ctx)
	defer cancel()
	c, err := e.cfg.Dialer(hctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return e.open(hctx, c, transportName(c), true, nil, false, false)
}
