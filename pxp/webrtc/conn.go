package webrtc

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/pion/sctp"

	"github.com/pion/datachannel"
	"github.com/pion/webrtc/v4"
)

const (
	// maxChunk is the largest message written: every WebRTC stack takes
	// 16 KiB messages.
	maxChunk = 16 << 10
	// maxMessage is the largest message read.
	maxMessage = 256 << 10
	// highWater and lowWater bound data queued in the SCTP association
	// before Write waits.
	highWater = 1 << 20
	lowWater  = 256 << 10
)

// dcConn is a detached data channel as a net.Conn: a byte stream cut into
// messages of at most maxChunk bytes.
type dcConn struct {
	pc  *webrtc.PeerConnection
	dc  *webrtc.DataChannel
	raw datachannel.ReadWriteCloserDeadliner

	rmu  sync.Mutex
	buf  []byte
	rest []byte

	wmu     sync.Mutex
	lowCh   chan struct{}
	closeMu sync.Mutex
	closed  bool
	lost    error // why the transport closed the link, if it did
	done    chan struct{}
}

// ErrConsentLost is what a WebRTC link's Read and Write return once its
// PeerConnection failed: nothing was heard from the peer for
// Config.ConsentTimeout (a crashed host, a NAT binding gone, a path cut),
// or DTLS failed.
var ErrConsentLost = errors.New("webrtc: link lost: nothing heard from the peer for ConsentTimeout, or DTLS failed")

func newDCConn(pc *webrtc.PeerConnection, dc *webrtc.DataChannel, raw datachannel.ReadWriteCloserDeadliner) *dcConn {
	c := &dcConn{pc: pc, dc: dc, raw: raw, lowCh: make(chan struct{}, 1), done: make(chan struct{})}
	dc.SetBufferedAmountLowThreshold(lowWater)
	dc.OnBufferedAmountLow(func() {
		select {
		case c.lowCh <- struct{}{}:
		default:
		}
	})
	return c
}

// CandidateType says how the link's ICE candidate pair connects: "host"
// (both ends' own addresses), "srflx" or "prflx" (an address a NAT gave
// one end, learned from a STUN server or from the checks), or "relay" (a
// TURN server carries it), the most indirect of the two ends; "" before
// a pair is selected.
func (c *dcConn) CandidateType() string {
	local, remote := c.CandidatePair()
	if indirectness(local) > indirectness(remote) {
		return local
	}
	return remote
}

// indirectness orders candidate types: host, srflx, prflx, relay.
func indirectness(typ string) int {
	switch typ {
	case "host":
		return 1
	case "srflx":
		return 2
	case "prflx":
		return 3
	case "relay":
		return 4
	}
	return 0
}

// CandidatePair returns the types of the selected ICE pair's local and
// remote candidates.
func (c *dcConn) CandidatePair() (local, remote string) {
	pair := c.selectedPair()
	if pair == nil {
		return "", ""
	}
	return pair.Local.Typ.String(), pair.Remote.Typ.String()
}

// Transport returns "webrtc" (pxp labels links with it).
func (c *dcConn) Transport() string { return "webrtc" }

func (c *dcConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for len(c.rest) == 0 {
		if c.buf == nil {
			c.buf = make([]byte, maxMessage)
		}
		n, err := c.raw.Read(c.buf)
		if err != nil {
			if errors.Is(err, io.ErrShortBuffer) {
				return 0, errors.New("webrtc: message over 256 KiB")
			}
			return 0, c.orLost(c.readErr(err))
		}
		c.rest = c.buf[:n]
	}
	n := copy(p, c.rest)
	c.rest = c.rest[n:]
	return n, nil
}

// readErr turns the SCTP stack's report of a closed association into
// what a stream's reader expects: io.EOF when the peer closed (pion sends
// a user-initiated ABORT when a PeerConnection closes, and may report a
// reset stream, or, when the association closed while the stream was
// being reset, that a reset cannot be sent any more), and an error without the stack's internals (it prefixes
// a pointer) when the association failed otherwise.
func (c *dcConn) readErr(err error) error {
	switch {
	case errors.Is(err, sctp.ErrUserInitiatedAbort), errors.Is(err, io.EOF),
		errors.Is(err, sctp.ErrResetPacketInStateNotExist): // the association closed under a reader resetting its stream
		return io.EOF
	case errors.Is(err, sctp.ErrChunk):
		return errors.New("webrtc: the peer aborted the link")
	}
	if st := c.dc.ReadyState(); st == webrtc.DataChannelStateClosing || st == webrtc.DataChannelStateClosed {
		return io.EOF // the channel was reset
	}
	return err
}

// awaitFirst reads the peer's first message ahead, keeping it for Read, by
// deadline or until ctx ends.
func (c *dcConn) awaitFirst(ctx context.Context, deadline time.Time) error {
	c.raw.SetReadDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { c.raw.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	defer c.raw.SetReadDeadline(time.Time{})
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.buf == nil {
		c.buf = make([]byte, maxMessage)
	}
	n, err := c.raw.Read(c.buf)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	c.rest = c.buf[:n]
	return nil
}

func (c *dcConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	written := 0
	for written < len(p) {
		for c.dc.BufferedAmount() > highWater {
			select {
			case <-c.lowCh:
			case <-c.done:
				return written, c.orLost(net.ErrClosed)
			case <-time.After(time.Second):
				// re-check: the low-water callback may have fired before we waited
			}
		}
		chunk := p[written:]
		if len(chunk) > maxChunk {
			chunk = chunk[:maxChunk]
		}
		n, err := c.raw.Write(chunk)
		written += n
		if err != nil {
			return written, c.orLost(err)
		}
	}
	return written, nil
}

// lose closes the link for a reason of the transport's, which Read and
// Write return from then on.
func (c *dcConn) lose(err error) {
	c.closeMu.Lock()
	if !c.closed {
		c.lost = err
	}
	c.closeMu.Unlock()
	c.Close()
}

// orLost returns why the transport closed the link, if it did, else err.
func (c *dcConn) orLost(err error) error {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.lost != nil {
		return c.lost
	}
	return err
}

// Close closes the data channel and its peer connection.
func (c *dcConn) Close() error {
	c.closeMu.Lock()
	if c.closed {
		c.closeMu.Unlock()
		return nil
	}
	c.closed = true
	close(c.done)
	c.closeMu.Unlock()
	c.raw.Close()
	return c.pc.Close()
}

type addr string

func (a addr) Network() string { return "webrtc" }
func (a addr) String() string  { return string(a) }

func (c *dcConn) LocalAddr() net.Addr { return c.pairAddr(true) }

func (c *dcConn) RemoteAddr() net.Addr { return c.pairAddr(false) }

// selectedPair is the ICE candidate pair the link runs over, or nil before
// one is selected.
func (c *dcConn) selectedPair() *webrtc.ICECandidatePair {
	sctp := c.pc.SCTP()
	if sctp == nil || sctp.Transport() == nil || sctp.Transport().ICETransport() == nil {
		return nil
	}
	pair, err := sctp.Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil || pair.Local == nil || pair.Remote == nil {
		return nil
	}
	return pair
}

// pairAddr reads the selected ICE candidate pair.
func (c *dcConn) pairAddr(local bool) net.Addr {
	pair := c.selectedPair()
	if pair == nil {
		return addr("webrtc")
	}
	cand := pair.Remote
	if local {
		cand = pair.Local
	}
	return addr(net.JoinHostPort(cand.Address, strconv.Itoa(int(cand.Port))))
}

func (c *dcConn) SetDeadline(t time.Time) error {
	c.raw.SetReadDeadline(t)
	return c.raw.SetWriteDeadline(t)
}

func (c *dcConn) SetReadDeadline(t time.Time) error  { return c.raw.SetReadDeadline(t) }
func (c *dcConn) SetWriteDeadline(t time.Time) error { return c.raw.SetWriteDeadline(t) }
