package pxp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"

	"github.com/seed0021ed4d/pex/pxp/wire"
)

// Upgrader moves an introduction from the relayed session onto a direct
// transport, signaled with `upgrade` messages over that session (docs/pxp-wire.md §6).
// Package pxp/webrtc implements it with WebRTC data channels; pxp itself
// does not depend on any WebRTC stack.
type Upgrader interface {
	// Transport is the name used in upgrade messages and Conn.Transport,
	// "webrtc" for interoperability with the reference.
	Transport() string
	// Start begins one upgrade. The requester is the initiator. Each local
	// signal is passed to signal, which sends it to the peer; signal may be
	// called from any goroutine, until Close.
	Start(ctx context.Context, initiator bool, signal func(json.RawMessage) error) (Upgrade, error)
}

// Upgrade is one upgrade in progress.
type Upgrade interface {
	// Signal feeds a signal received from the peer. An error means the
	// signal was invalid; the upgrade is then abandoned.
	Signal(json.RawMessage) error
	// Conn waits until the direct transport is open and returns it; the
	// caller then owns it.
	Conn(ctx context.Context) (net.Conn, error)
	// Close abandons the upgrade and frees its resources. After Conn has
	// returned a connection, Close does not affect that connection.
	Close() error
}

// upgradeState is a link's part in moving an introduction onto a direct
// transport. It is guarded by Peer.mu; Peer.sigMu orders the peer's
// signals into it.
type upgradeState struct {
	cur      Upgrade           // the upgrade in progress
	starting bool              // an outgoing upgrade is starting
	early    []json.RawMessage // signals that came meanwhile
	done     bool              // the upgrade produced its transport
}

// testHookUpgraded, when set by a test, runs on the answering side between
// opening the upgraded link and handing it over.
var testHookUpgraded func(relayed *Peer)

// maxEarlySignals bounds signals kept while an upgrade is starting.
const maxEarlySignals = 64

type upgradeMsg struct {
	Transport string          `json:"transport"`
	Signal    json.RawMessage `json:"signal"`
}

// sendSignal sends one local signal to the peer in an upgrade message.
func (p *Peer) sendSignal(transport string) func(json.RawMessage) error {
	return func(sig json.RawMessage) error {
		b, err := json.Marshal(upgradeMsg{Transport: transport, Signal: sig})
		if err != nil {
			return err
		}
		p.mu.Lock()
		nonce := wire.FormatNonce(p.nonce)
		p.nonce++
		p.mu.Unlock()
		return p.send(wire.CmdUpgrade, nonce, b)
	}
}

// upgradeOut runs the requester's side of an upgrade over the relayed
// session p and returns the data stream of the new direct link.
func (p *Peer) upgradeOut(ctx context.Context, up Upgrader) (*Conn, error) {
	// The answer can arrive before Start returns: keep signals until then.
	p.mu.Lock()
	p.up.starting = true
	p.mu.Unlock()
	us, err := up.Start(ctx, true, p.sendSignal(up.Transport()))
	p.sigMu.Lock()
	p.mu.Lock()
	early := p.up.early
	p.up.early, p.up.starting = nil, false
	closed := p.closed
	if err == nil && !closed {
		p.up.cur = us
	}
	p.mu.Unlock()
	if err == nil && !closed {
		for _, sig := range early {
			if err = us.Signal(sig); err != nil {
				break
			}
		}
	}
	p.sigMu.Unlock()
	if err != nil || closed {
		if us != nil {
			us.Close()
		}
		if err == nil {
			err = p.Err()
		}
		return nil, err
	}
	conn, err := us.Conn(ctx)
	p.mu.Lock()
	if err == nil {
		p.up.done = true
	}
	p.up.cur = nil
	p.mu.Unlock()
	if err != nil {
		us.Close()
		return nil, fmt.Errorf("pxp: %s upgrade: %w", up.Transport(), err)
	}
	return p.ex.open(ctx, conn, up.Transport(), true, nil, false, true)
}

// onUpgrade handles a peer's upgrade message: a signal for the upgrade in
// progress, or, on a relayed session we answer, the start of one.
func (p *Peer) onUpgrade(m wire.Message) error {
	var req upgradeMsg
	if json.Unmarshal(m.Args, &req) != nil {
		return &ProtocolError{Reason: "upgrade argument is not {transport, signal}"}
	}
	up := p.ex.cfg.Upgrader
	if up == nil || req.Transport != up.Transport() {
		return fmt.Errorf("%w: %q over %s", ErrUnsupportedUpgrade, truncate([]byte(req.Transport), 32), p)
	}
	p.sigMu.Lock()
	defer p.sigMu.Unlock()
	p.mu.Lock()
	us, done, data := p.up.cur, p.up.done, p.data != nil
	if us == nil && p.up.starting {
		if len(p.up.early) >= maxEarlySignals {
			p.mu.Unlock()
			return errors.New("pxp: too many signals before the upgrade started")
		}
		p.up.early = append(p.up.early, append(json.RawMessage(nil), req.Signal...))
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	if us != nil {
		if err := us.Signal(req.Signal); err != nil {
			return fmt.Errorf("pxp: bad %s signal from %s: %w", up.Transport(), p, err)
		}
		return nil
	}
	if done || p.outgoing {
		return nil // a late signal for an upgrade that is over
	}
	if p.via == nil || data {
		return fmt.Errorf("%w: only a relayed session without data can be upgraded", ErrUnsupportedUpgrade)
	}
	ctx, cancel := p.ex.handshakeContext(context.Background())
	us, err := up.Start(ctx, false, p.sendSignal(up.Transport()))
	if err != nil {
		cancel()
		return err
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		cancel()
		us.Close()
		return nil
	}
	p.up.cur = us
	p.mu.Unlock()
	if err := us.Signal(req.Signal); err != nil {
		cancel()
		return fmt.Errorf("pxp: bad %s signal from %s: %w", up.Transport(), p, err)
	}
	p.ex.wg.Add(1)
	go func() {
		defer p.ex.wg.Done()
		defer cancel()
		conn, err := us.Conn(ctx)
		p.mu.Lock()
		current := p.up.cur == us
		if err == nil && current {
			p.up.done = true
			p.up.cur = nil
		}
		p.mu.Unlock()
		if err != nil || !current {
			if err == nil {
				conn.Close() // the requester fell back to the relay meanwhile
			}
			if err != nil && !errors.Is(err, context.Canceled) {
				p.closeWith(fmt.Errorf("pxp: %s upgrade: %w", up.Transport(), err))
			}
			return
		}
		c, err := p.ex.open(ctx, conn, up.Transport(), false, nil, false, true)
		if err != nil {
			p.closeWith(err)
			p.noData()
			return
		}
		if testHookUpgraded != nil {
			testHookUpgraded(p)
		}
		if !p.deliver(c) {
			c.Peer().closeWith(ErrClosed)
		}
	}()
	return nil
}
