package pxp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/seed0021ed4d/pex/internal/jsonscan"
	"github.com/seed0021ed4d/pex/pxp/wire"
)

// waitHello waits until the peer's hello was accepted.
func (p *Peer) waitHello(ctx context.Context) error {
	select {
	case <-p.helloDone:
		return nil
	case <-p.done:
		return p.Err()
	case <-ctx.Done():
		return ctxErr(ctx)
	}
}

// establish waits for the hello and opens the data stream: as the outgoing
// side by sending connect; as the incoming side by waiting for the peer's
// connect, or, on a relayed session, for the upgraded link's data stream.
func (p *Peer) establish(ctx context.Context) (*Conn, error) {
	if err := p.waitHello(ctx); err != nil {
		return nil, err
	}
	if p.outgoing {
		return p.connectData(ctx)
	}
	select {
	case c, ok := <-p.dataCh:
		if !ok {
			return nil, p.Err()
		}
		return c, nil
	case <-p.done:
		// A requester may end the relayed session as soon as the upgraded
		// link is up, before this side has handed that link over: once the
		// upgrade has produced its transport, its data stream still comes
		// (or dataCh is closed when opening it failed).
		p.mu.Lock()
		upgraded := p.up.done
		p.mu.Unlock()
		if upgraded {
			select {
			case c, ok := <-p.dataCh:
				if ok {
					return c, nil
				}
			case <-ctx.Done():
				return nil, ctxErr(ctx)
			}
			return nil, p.Err()
		}
		select {
		case c, ok := <-p.dataCh:
			if ok {
				return c, nil
			}
		default:
		}
		return nil, p.Err()
	case <-ctx.Done():
		return nil, ctxErr(ctx)
	}
}

// connectData sends connect and returns the data stream once answered.
func (p *Peer) connectData(ctx context.Context) (*Conn, error) {
	net := p.ex.network
	p.mu.Lock()
	if p.data != nil {
		p.mu.Unlock()
		return nil, fmt.Errorf("pxp: already connected for network %q", net)
	}
	st, err := p.sess.Stream(wire.DataPrefix + net)
	if err != nil {
		p.mu.Unlock()
		return nil, err
	}
	p.data, p.dataMine = st, true
	joined := p.joined
	p.mu.Unlock()
	if !joined {
		if err := p.join(); err != nil {
			return nil, err
		}
	}
	arg, _ := json.Marshal(net)
	res, err := p.request(ctx, wire.CmdConnect, arg)
	if err != nil {
		return nil, err
	}
	if err := responseError(wire.CmdConnect, res); err != nil {
		return nil, err
	}
	c := &Conn{Conn: st, peer: p}
	p.ex.emit(Event{Type: EventConnect, Peer: p, Conn: c})
	return c, nil
}

func (p *Peer) onHello(args json.RawMessage) error {
	select {
	case <-p.helloDone:
		return nil // a second hello is ignored, as by the reference
	default:
	}
	var room [4]json.RawMessage // [version, connectInfo, networks]: none allocated
	parts, err := jsonscan.DecodeArray(args, room[:0])
	if err != nil || len(parts) < 3 {
		return &ProtocolError{Reason: "hello arguments are not [version, connectInfo, networks]"}
	}
	// The reference compares with ===: only the JSON number 1 will do.
	if version, err := jsonscan.DecodeFloat(parts[0]); err != nil || version != wire.Version {
		return fmt.Errorf("%w: theirs=%s, ours=%d", ErrVersionMismatch, truncate(parts[0], 32), wire.Version)
	}
	networks, err := decodeStrings(parts[2])
	if err != nil {
		return &ProtocolError{Reason: "hello networks are not an array of strings"}
	}
	common := false
	for _, n := range networks {
		if n == p.ex.network {
			common = true
		}
	}
	if !common {
		return &NetworkMismatchError{Theirs: truncateList(networks), Ours: p.ex.network}
	}
	info := parseConnectInfo(parts[1])
	p.mu.Lock()
	raw := withoutObserved(append(json.RawMessage(nil), parts[1]...))
	p.remote = remoteHello{connectInfo: info, raw: raw, compact: compactJSON(raw)}
	p.mu.Unlock()
	if p.via == nil && info.observed.IsValid() {
		if from, ok := transportAddr(p.conn); ok {
			p.ex.observe(from.Addr(), info.observed.Addr())
		}
	}
	// A relayed session joins the peer list only once it carries data: it
	// may instead only signal an upgrade to a direct transport.
	if p.via == nil {
		if err := p.join(); err != nil {
			if !errors.Is(err, ErrPeerFull) {
				return err
			}
			// No slot: say so. The peer's next request (its connect) is
			// answered "peer is full" and the link closes then, or after
			// refuseLinger.
			p.mu.Lock()
			p.refusing = err
			p.refuseTimer = time.AfterFunc(refuseLinger, func() { p.closeWith(err) })
			p.mu.Unlock()
		}
	}
	p.mu.Lock()
	p.ready = true
	p.mu.Unlock()
	close(p.helloDone)
	return nil
}

// refuseLinger is how long a link refused for want of a slot is kept for
// its peer's connect, so that the refusal can be told.
const refuseLinger = 2 * time.Second

// join adds the link to the peer list.
func (p *Peer) join() error {
	if err := p.ex.register(p); err != nil {
		return err
	}
	p.mu.Lock()
	p.joined = true
	p.mu.Unlock()
	p.ex.emit(Event{Type: EventPeer, Peer: p})
	return nil
}

// deliver hands the link's data stream (or the upgraded link's) to whoever
// waits in establish, once. A relayed session that has already ended can
// still hand over the link its upgrade produced.
func (p *Peer) deliver(c *Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.delivered || (p.closed && !p.up.done) {
		return false
	}
	p.delivered = true
	p.dataCh <- c // capacity 1, written once
	return true
}

// noData tells establish that no data stream will come.
func (p *Peer) noData() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.delivered {
		p.delivered = true
		close(p.dataCh)
	}
}

// decodeStrings decodes a JSON array of strings (null for none, null
// elements for "").
func decodeStrings(raw []byte) ([]string, error) {
	var room [8]json.RawMessage
	elems, err := jsonscan.DecodeArray(raw, room[:0])
	if err != nil || elems == nil {
		return nil, err
	}
	out := make([]string, len(elems))
	for i, e := range elems {
		if out[i], err = jsonscan.DecodeString(e); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func truncateList(s []string) []string {
	if len(s) > 4 {
		return s[:4]
	}
	return s
}

// onConnect handles the peer's connect: open our data stream and answer.
func (p *Peer) onConnect(m wire.Message) error {
	var network string
	if json.Unmarshal(m.Args, &network) != nil {
		return &ProtocolError{Reason: "connect argument is not a string"}
	}
	if network != p.ex.network {
		p.refuse(wire.CmdConnect, m.Nonce, "request", "Peer tried to connect for unsupported network %q", network)
		return nil
	}
	p.mu.Lock()
	if p.data != nil {
		mine := p.dataMine
		p.mu.Unlock()
		if mine {
			// Both sides sent connect: one data stream serves both.
			p.respond(m.Nonce, nil)
			return nil
		}
		p.refuse(wire.CmdConnect, m.Nonce, "request", "Peer tried to connect to network %q twice", network)
		return fmt.Errorf("pxp: %s connected to network %q twice", p, network)
	}
	if p.up.done {
		p.mu.Unlock()
		p.refuse(wire.CmdConnect, m.Nonce, "request", "connection already upgraded")
		return nil
	}
	us, joined := p.up.cur, p.joined
	p.up.cur = nil
	p.mu.Unlock()
	if us != nil {
		// The requester gave up on the upgrade and uses the relay.
		us.Close()
	}
	if !joined {
		if err := p.join(); err != nil {
			p.refuse(wire.CmdConnect, m.Nonce, "request", "%v", err)
			return err
		}
	}
	p.mu.Lock()
	st, err := p.sess.Stream(wire.DataPrefix + network)
	if err != nil {
		p.mu.Unlock()
		return err
	}
	p.data = st
	p.mu.Unlock()
	// Established before the answer goes out: the peer may ask this node
	// for candidates the moment it has it (open sets it on the other side).
	p.established.Store(true)
	p.respond(m.Nonce, nil)
	p.deliver(&Conn{Conn: st, peer: p})
	return nil
}
