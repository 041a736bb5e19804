package swarm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/seed0021ed4d/pex/bt/mse"
	"github.com/seed0021ed4d/pex/bt/wire"
)

// Why a link's handshakes failed. The Err of an EventDialFailed (a dialed
// peer) or of an EventDisconnected with Handshaking set (a peer that
// connected to us) wraps one of them, with what was seen: errors.Is tells
// the case, Error says the details.
var (
	// ErrWrongInfoHash: the peer's handshake (plain, or MSE's) is for
	// another swarm, a mistyped infohash most often.
	ErrWrongInfoHash = errors.New("wrong infohash")
	// ErrNotBitTorrent: the peer speaks another protocol (HTTP, PXP, TLS
	// ...): its first bytes are no BitTorrent handshake, nor, from a peer
	// that connected to us, the start of Message Stream Encryption.
	ErrNotBitTorrent = errors.New("not BitTorrent")
	// ErrMSEFailed: Message Stream Encryption's handshake failed.
	ErrMSEFailed = errors.New("MSE failed")
	// ErrClosedEarly: the peer closed (or reset) the connection before
	// the handshakes were done.
	ErrClosedEarly = errors.New("closed early")
	// ErrHandshakeTimeout: a handshake did not come within
	// Config.HandshakeTimeout.
	ErrHandshakeTimeout = errors.New("handshake timed out")
)

// Why a link ended that is not a failure of the handshakes themselves.
var (
	errMessageFlood = errors.New("messages sent too frequently")
	errSelf         = errors.New("connected to ourselves")
	// errOwnAddress: a peer added by hand is this swarm's own listen
	// address; it is not dialed.
	errOwnAddress = errors.New("not dialed: this swarm's own listen address")
	errEvicted    = errors.New("evicted: the swarm was full and this peer had sent nothing useful")
	// errHandshakeEvicted ends an incoming link still in its handshakes to
	// make room for a newer one (Config.MaxHandshakes).
	errHandshakeEvicted = errors.New("handshake ended to make room: too many incoming handshakes at once")
	// errFull ends an incoming link that finished its handshakes when
	// every slot is taken by peers that cannot be evicted.
	errFull = errors.New("swarm full")
	// errOpeningRefused: an IP opened connections faster than
	// Config.OpeningRate allows.
	errOpeningRefused = errors.New("refused: too many connections from this IP")
)

// protocolStart is what every plain BitTorrent handshake starts with.
const protocolStart = "\x13" + wire.Protocol

// maxQuoted bounds the bytes of a stranger quoted in an error.
const maxQuoted = 24

// quoted is b's start as a Go string literal, for an error: what a peer
// that speaks another protocol said.
func quoted(b []byte) string {
	if len(b) > maxQuoted {
		return fmt.Sprintf("%q...", b[:maxQuoted])
	}
	return fmt.Sprintf("%q", b)
}

// readHandshake reads the peer's plain BitTorrent handshake. It fails
// with ErrNotBitTorrent at the first byte that cannot start one, rather
// than wait for 68 bytes a peer of another protocol may never send;
// with ErrClosedEarly or ErrHandshakeTimeout when the handshake does not
// come whole. answered says whether the peer answers ours (we dialed it)
// or opened the link, for the error's words.
func readHandshake(r io.Reader, timeout time.Duration, answered bool) (wire.Handshake, error) {
	var b [wire.HandshakeLen]byte
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if k := min(n, len(protocolStart)); string(b[:k]) != protocolStart[:k] {
			verb := "opened with"
			if answered {
				verb = "answered"
			}
			return wire.Handshake{}, fmt.Errorf("%w: the peer %s %s", ErrNotBitTorrent, verb, quoted(b[:n]))
		}
		if err != nil && n < len(b) {
			return wire.Handshake{}, stageErr(err, "BitTorrent handshake", n, timeout)
		}
	}
	return wire.ParseHandshake(b[:])
}

// stageErr says why reading a handshake (what: "BitTorrent handshake",
// "extended handshake"...) failed after n bytes of it: the peer closed,
// or sent nothing more within timeout. Other errors are returned as they
// are, named.
func stageErr(err error, what string, n int, timeout time.Duration) error {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		if n == 0 {
			return fmt.Errorf("%w: no %s from the peer within %v", ErrHandshakeTimeout, what, timeout)
		}
		return fmt.Errorf("%w: %d bytes of the peer's %s, then nothing within %v", ErrHandshakeTimeout, n, what, timeout)
	case closedErr(err):
		if n == 0 {
			return fmt.Errorf("%w: the peer closed the connection before its %s", ErrClosedEarly, what)
		}
		return fmt.Errorf("%w: the peer closed the connection %d bytes into its %s", ErrClosedEarly, n, what)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// closedErr reports whether err says the peer closed or reset the link.
func closedErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// mseErr says why an incoming Message Stream Encryption handshake failed.
func mseErr(err error, timeout time.Duration) error {
	switch {
	case errors.Is(err, mse.ErrUnknownHash):
		return fmt.Errorf("%w: the peer's MSE handshake is for another swarm", ErrWrongInfoHash)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%w: MSE handshake not done within %v", ErrHandshakeTimeout, timeout)
	case closedErr(err):
		return fmt.Errorf("%w: the peer closed the connection during the MSE handshake", ErrClosedEarly)
	}
	return fmt.Errorf("%w: %w", ErrMSEFailed, err)
}

// writeErr says why a handshake could not be written.
func writeErr(err error) error {
	if closedErr(err) || errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("%w: the peer closed the connection before our handshake was written (%w)", ErrClosedEarly, err)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w: the peer took no bytes of our handshake", ErrHandshakeTimeout)
	}
	return err
}

// notBitTorrent are the openings of protocols a BitTorrent port meets
// by mistake: PXP (pxp/wire's magic), HTTP's methods, TLS, SSH. An
// incoming link that starts with neither a BitTorrent handshake nor one
// of these is taken for MSE, whose first bytes are random.
var notBitTorrent = [][]byte{
	[]byte("#PXP#"),
	[]byte("GET "), []byte("HEAD "), []byte("POST "), []byte("PUT "), []byte("DELETE "),
	[]byte("OPTIONS "), []byte("CONNECT "), []byte("PATCH "), []byte("PRI * HTTP/2"),
	{0x16, 0x03}, // a TLS ClientHello
	[]byte("SSH-"),
}

// sniff classifies an incoming link's first bytes: plain BitTorrent (a
// prefix of its handshake's start), another protocol (ErrNotBitTorrent),
// or, once neither can be, MSE. more says the bytes are too few to tell.
func sniff(b []byte) (plain, more bool, err error) {
	k := min(len(b), len(protocolStart))
	if string(b[:k]) == protocolStart[:k] {
		return true, k < len(protocolStart), nil
	}
	undecided := false
	for _, sig := range notBitTorrent {
		k := min(len(b), len(sig))
		if !bytes.Equal(b[:k], sig[:k]) {
			continue
		}
		if k == len(sig) {
			return false, false, fmt.Errorf("%w: the peer opened with %s", ErrNotBitTorrent, quoted(b))
		}
		undecided = true
	}
	return false, undecided, nil
}
