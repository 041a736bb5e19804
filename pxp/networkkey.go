package pxp

// A link's network key handshake (Config.NetworkKey, package psk), run
// before PXP's magic on every direct transport, and what a keyed node does
// with a peer that failed it.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/seed0021ed4d/pex/pxp/psk"
)

// secure runs the network key's handshake over conn, as the initiator
// when this node opened the link, and returns the encrypted link, which
// PXP then runs over. conn is closed on failure; a peer that did not prove
// the key is a *NetworkKeyError.
func (e *Exchange) secure(ctx context.Context, conn net.Conn, kind string, outgoing bool) (net.Conn, error) {
	handshake := psk.Server
	if outgoing {
		handshake = psk.Client
	}
	kc, err := handshake(ctx, conn, e.cfg.NetworkKey)
	if err == nil {
		return kc, nil
	}
	if errors.Is(err, psk.ErrPeerKeyless) {
		drainKeyless(ctx, conn)
	}
	conn.Close()
	var ne net.Error
	switch {
	case e.ctx.Err() != nil:
		return nil, ErrClosed
	case ctx.Err() != nil:
		err = ctxErr(ctx)
	case errors.As(err, &ne) && ne.Timeout():
		err = ErrHandshakeTimeout
	case errors.Is(err, psk.ErrBadPreamble):
		err = fmt.Errorf("%w: %w", ErrBadMagic, err)
	case errors.Is(err, psk.ErrKeyMismatch), errors.Is(err, psk.ErrPeerKeyless), errors.Is(err, psk.ErrBadHandshake):
		err = &NetworkKeyError{Transport: kind, Remote: conn.RemoteAddr().String(), Reason: err}
	}
	if k := protocolErrorKind(err); k != "" {
		e.counts.add(func(c *counters) { bump(&c.protocolErrors, k) })
	}
	e.cfg.Logger.Debug("pxp: network key handshake failed", "transport", kind, "remote", conn.RemoteAddr().String(), "err", err)
	return nil, err
}

// keylessLinger bounds how long a keyed node reads on, and throws away, what
// a keyless peer sends after its magic, before closing: a connection
// closed with bytes unread is reset, and the peer's stack may throw away
// the preamble it was about to read, which is what tells the peer why it
// was refused. The peer closes as soon as it has read it.
const keylessLinger = time.Second

// drainKeyless reads and discards up to 64 KiB from a refused keyless
// peer for keylessLinger at most (and not past ctx).
func drainKeyless(ctx context.Context, conn net.Conn) {
	d := time.Now().Add(keylessLinger)
	if dl, ok := ctx.Deadline(); ok && dl.Before(d) {
		d = dl
	}
	_ = conn.SetReadDeadline(d)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	_, _ = io.Copy(io.Discard, io.LimitReader(conn, 64<<10))
}
