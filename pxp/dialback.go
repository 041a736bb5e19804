package pxp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/seed0021ed4d/pex/pxp/psk"
	"github.com/seed0021ed4d/pex/pxp/wire"
)

// Dial-back: before a node behind a NAT advertises the address peers see
// it at, it asks a peer to dial it there (AutoNAT's idea): the request
// "dialback" with a TCP port, answered true when the peer's connection to
// that port of the address it sees the asker at got PXP's magic back
// within DialBackTimeout (in a private network, inside the network key's
// handshake: the node there must hold the key). A peer dials only the IP of the link the request
// came on, so that no one can aim dials at a third party, and at most
// MaxDialBacks at once; the per-kind request rate bounds the rest. Go
// nodes say they answer it ("dialback" in connectInfo); JS nodes do not.

// ErrNoDialBack: no connected peer can be asked for a dial-back.
var ErrNoDialBack = errors.New("pxp: no peer answers dial-backs")

// DialBack asks up to three peers on direct links, at once, to dial this
// node at port of the address each sees it at, and reports whether any
// reached it (as soon as one did).
func (e *Exchange) DialBack(ctx context.Context, port int) (bool, error) {
	if port <= 0 || port > 65535 {
		return false, fmt.Errorf("pxp: dial-back port %d", port)
	}
	var ask []*Peer
	for _, p := range e.Peers() {
		p.mu.Lock()
		can := p.remote.dialback && p.via == nil
		p.mu.Unlock()
		if can && len(ask) < 3 {
			ask = append(ask, p)
		}
	}
	if len(ask) == 0 {
		return false, ErrNoDialBack
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	answers := make(chan error, len(ask))
	for _, p := range ask {
		go func() {
			res, err := p.request(ctx, wire.CmdDialback, json.RawMessage(strconv.Itoa(port)))
			if err == nil {
				var out []json.RawMessage
				switch {
				case json.Unmarshal(res, &out) != nil || len(out) == 0:
					err = &ProtocolError{Reason: "dialback answer is not an array"}
				case string(out[0]) != "null":
					err = &RemoteError{Command: wire.CmdDialback, Message: string(truncate(out[0], 128))}
				case len(out) == 2 && string(out[1]) == "true":
					err = nil
				default:
					err = errNotReached
				}
			}
			answers <- err
		}()
	}
	var last error
	answered := false // a peer tried and could not reach us
	for range ask {
		err := <-answers
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, errNotReached):
			answered = true
		default:
			last = err
		}
	}
	if answered {
		return false, nil
	}
	return false, last
}

var errNotReached = errors.New("pxp: the peer could not dial back")

// onDialback dials the asker back at the port it named, on the IP of its
// link, and answers whether PXP's magic came back.
func (p *Peer) onDialback(m wire.Message) error {
	var port int
	if json.Unmarshal(m.Args, &port) != nil || port <= 0 || port > 65535 {
		p.refuse(m.Command, m.Nonce, "request", "dialback wants a TCP port")
		return nil
	}
	from, ok := transportAddr(p.conn)
	if !ok || p.via != nil {
		p.refuse(m.Command, m.Nonce, "request", "no address to dial back")
		return nil
	}
	e := p.ex
	select {
	case e.dialBacks <- struct{}{}:
	default:
		p.refuse(m.Command, m.Nonce, "dialbacks", "too many dial-backs")
		return nil
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer func() { <-e.dialBacks }()
		ok := e.dialBackTo(netip.AddrPortFrom(from.Addr(), uint16(port)))
		res, _ := json.Marshal([]any{nil, ok})
		p.send(wire.CmdRes, m.Nonce, res)
	}()
	return nil
}

// dialBackTo reports whether a PXP node answers at addr.
func (e *Exchange) dialBackTo(addr netip.AddrPort) bool {
	ctx, cancel := context.WithTimeout(e.ctx, e.cfg.DialBackTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		return false
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	var r io.Reader = c
	if k := e.cfg.NetworkKey; k != nil {
		// In a private network the magic comes inside the key's
		// handshake: the node dialed must hold the key.
		kc, err := psk.Client(ctx, c, k)
		if err != nil {
			return false
		}
		r = kc
	}
	magic := make([]byte, len(wire.Magic))
	if _, err := io.ReadFull(r, magic); err != nil {
		return false
	}
	return string(magic) == wire.Magic
}
