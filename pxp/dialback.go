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
)

// Dial-back: before a node behind a NAT advertises the address peers see
// it at, it asks a peer to dial it there (AutoNAT's idea): the request
// "dialback" with a TCP port, answered true when the peer's connection to
// that port of the address it sees the asker at got PXP's magic back
// within DialBackTimeout. A peer dials only the IP of the link the request
// came on, so that no one can aim dials at a third party, and at most
// MaxDialBacks at once; the per-kind request rate bounds the rest. Go
// nodes say they answer it ("dialback" in connectInfo); JS nodes do not.

// CmdDialback asks the peer to dial this node back.
const CmdDialback = "dialback"

// ErrNoDialBack: no connected peer can be asked for a dial-back.
var ErrNoDialBack = errors.New("pxp: no peer answers dial-backs")

// DialBack asks up to three peers, on direct links, to dial this node at
// port of the address each sees it at, and reports whether any reached it.
func (e *Exchange) DialBack(ctx context.Context, port int) (bool, error) {
	if port <= 0 || port > 65535 {
		return false, fmt.Errorf("pxp: dial-back port %d", port)
	}
	asked := 0
	var lastErr error
	for _, p := range e.Peers() {
		p.mu.Lock()
		can := p.remote.dialback && p.via == nil
		p.mu.Unlock()
		if !can {
			continue
		}
		asked++
		res, err := p.request(ctx, CmdDialback, json.RawMessage(strconv.Itoa(port)))
		if err == nil {
			var out []json.RawMessage
			if json.Unmarshal(res, &out) == nil && len(out) == 2 && string(out[0]) == "null" && string(out[1]) == "true" {
				return true, nil
			}
			if len(out) >= 1 && string(out[0]) != "null" {
				err = &RemoteError{Command: CmdDialback, Message: string(truncate(out[0], 128))}
			}
		}
		if err != nil {
			lastErr = err
		}
		if asked == 3 {
			break
		}
	}
	if asked == 0 {
		return false, ErrNoDialBack
	}
	if lastErr != nil && ctx.Err() != nil {
		return false, lastErr
	}
	return false, nil
}

// onDialback dials the asker back at the port it named, on the IP of its
// link, and answers whether PXP's magic came back.
func (p *Peer) onDialback(m Message) error {
	var port int
	if json.Unmarshal(m.Args, &port) != nil || port <= 0 || port > 65535 {
		p.refuse(m.Command, m.Nonce, "dialback wants a TCP port")
		return nil
	}
	from, ok := transportAddr(p.conn)
	if !ok || p.via != nil {
		p.refuse(m.Command, m.Nonce, "no address to dial back")
		return nil
	}
	e := p.ex
	select {
	case e.dialBacks <- struct{}{}:
	default:
		p.refuse(m.Command, m.Nonce, "too many dial-backs")
		return nil
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer func() { <-e.dialBacks }()
		ok := e.dialBackTo(netip.AddrPortFrom(from.Addr(), uint16(port)))
		res, _ := json.Marshal([]any{nil, ok})
		p.send(CmdRes, m.Nonce, res)
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
	magic := make([]byte, len(Magic))
	if _, err := io.ReadFull(c, magic); err != nil {
		return false
	}
	return string(magic) == Magic
}
