// Package psk makes a PXP network private: every member holds one
// pre-shared network key (Key), and every direct link between two of them
// starts with a Noise handshake that proves, on both sides, that the other
// holds it; the handshake's keys then encrypt and authenticate every byte
// of the link. A node without the key, or with another, is refused at the
// handshake, before it has seen a byte of PXP.
//
// # The handshake
//
// The Noise protocol is Noise_NNpsk0_25519_ChaChaPoly_BLAKE2s, with a
// pre-shared key derived from the network key and the prologue
// "pex network key 1". NN: pex nodes have no long-term identity to
// authenticate (a node's id is random at each start); what is proven is
// membership, by the pre-shared key, and the ephemeral Diffie-Hellman gives
// each link keys of its own, secret even to a later thief of the network
// key (forward secrecy). psk0: the key is mixed in before the first
// message, so the initiator's first message already proves it (replays
// aside, see below) and a responder refuses an outsider by one hash and
// one AEAD check, before any Diffie-Hellman and before answering a byte.
// One round trip.
//
// On the wire, each side first writes Preamble, "#PXK#" (where a keyless
// PXP node writes its magic "#PXP#", so that either side of a keyed and a
// keyless node sees at once what the other is and says so); then each
// handshake message and every later Noise message goes in a frame, its
// length in two bytes (big-endian) then the message:
//
//	initiator -> "#PXK#" len(48) e                (psk, e: 32 bytes and a 16-byte tag)
//	responder -> "#PXK#"                           (at once, without waiting)
//	responder -> len(48) e                         (e, ee: 32 bytes and a tag)
//	both      -> len(n) ciphertext ...             (16 <= n <= 65535: at most 65519 bytes of plaintext)
//
// A responder whose key does not open the initiator's first message
// answers with a frame of length 0 (the refusal, unauthenticated: it only
// turns a closed connection into a clear error) and closes.
//
// A replayed first message gets an answer, but its replayer lacks the
// initiator's ephemeral key: it can neither read the answer nor write one
// frame the responder accepts, and the link dies at its first frame or
// at the handshake's deadline.
package psk

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/flynn/noise"
)

// Preamble is what each side of a keyed link writes first, in the place
// of PXP's magic "#PXP#".
const Preamble = "#PXK#"

// plainMagic is the magic of PXP without a key (pxp/wire.Magic).
const plainMagic = "#PXP#"

// prologue binds the handshake to this protocol and its version.
const prologue = "pex network key 1"

// Frame sizes.
const (
	// MaxFrame is the largest Noise message a frame carries.
	MaxFrame = noise.MaxMsgLen
	// MaxPayload is the most plaintext one frame carries.
	MaxPayload = MaxFrame - tagSize
	tagSize    = 16
	hsMsgSize  = 32 + tagSize // each handshake message: an ephemeral key and the empty payload's tag
)

// Why a handshake fails. Each is wrapped with details; match with errors.Is.
var (
	// ErrKeyMismatch: the peer holds another network key (or sent a
	// handshake that does not open, which cannot be told apart).
	ErrKeyMismatch = errors.New("psk: the peer holds another network key")
	// ErrPeerKeyless: the peer speaks PXP without a network key.
	ErrPeerKeyless = errors.New("psk: the peer has no network key (it speaks plain PXP)")
	// ErrBadPreamble: the peer's first bytes are neither Preamble nor
	// PXP's magic: it does not speak PXP.
	ErrBadPreamble = errors.New("psk: the peer does not speak PXP")
	// ErrBadHandshake: a handshake frame of the wrong size.
	ErrBadHandshake = errors.New("psk: malformed handshake message")
	// ErrBadFrame: a frame after the handshake that does not open under
	// the link's key (garbage, or bytes changed on the way). The link is
	// then unusable.
	ErrBadFrame = errors.New("psk: frame failed authentication")
)

var suite = noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashBLAKE2s)

// Client runs the initiator's side of the handshake over conn, within
// ctx, and returns the encrypted link. conn is left open on failure: the
// caller closes it.
func Client(ctx context.Context, conn net.Conn, key *Key) (*Conn, error) {
	return handshake(ctx, conn, key, true)
}

// Server runs the responder's side of the handshake over conn, within
// ctx, and returns the encrypted link. conn is left open on failure: the
// caller closes it.
func Server(ctx context.Context, conn net.Conn, key *Key) (*Conn, error) {
	return handshake(ctx, conn, key, false)
}

func handshake(ctx context.Context, conn net.Conn, key *Key, initiator bool) (c *Conn, err error) {
	if key == nil {
		return nil, errors.New("psk: no key")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The handshake's I/O is bounded by ctx: when it ends (its deadline
	// passed, or canceled), the connection's deadline is set in the past.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		if !stop() || ctx.Err() != nil {
			if err == nil {
				err = ctx.Err()
			} else {
				err = fmt.Errorf("%w (%v)", ctx.Err(), err)
			}
			c = nil
			return
		}
		_ = conn.SetDeadline(time.Time{})
	}()
	psk := key.noisePSK()
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite:           suite,
		Pattern:               noise.HandshakeNN,
		Initiator:             initiator,
		Prologue:              []byte(prologue),
		PresharedKey:          psk[:],
		PresharedKeyPlacement: 0,
	})
	if err != nil {
		return nil, err
	}
	var send, recv *noise.CipherState
	if initiator {
		out := append(make([]byte, 0, len(Preamble)+2+hsMsgSize), Preamble...)
		out = append(out, 0, 0)
		out, _, _, err = hs.WriteMessage(out, nil)
		if err != nil {
			return nil, err
		}
		binary.BigEndian.PutUint16(out[len(Preamble):], uint16(len(out)-len(Preamble)-2))
		if _, err := conn.Write(out); err != nil {
			return nil, fmt.Errorf("psk: handshake: %w", err)
		}
		if err := readPreamble(conn); err != nil {
			return nil, err
		}
		msg, err := readHandshakeFrame(conn)
		if err != nil {
			return nil, err
		}
		if len(msg) == 0 {
			return nil, fmt.Errorf("%w: it refused ours", ErrKeyMismatch)
		}
		if _, send, recv, err = hs.ReadMessage(nil, msg); err != nil {
			return nil, fmt.Errorf("%w: its answer does not open under ours", ErrKeyMismatch)
		}
	} else {
		if _, err := conn.Write([]byte(Preamble)); err != nil {
			return nil, fmt.Errorf("psk: handshake: %w", err)
		}
		if err := readPreamble(conn); err != nil {
			return nil, err
		}
		msg, err := readHandshakeFrame(conn)
		if err != nil {
			return nil, err
		}
		if _, _, _, err := hs.ReadMessage(nil, msg); err != nil {
			_, _ = conn.Write([]byte{0, 0}) // the refusal
			return nil, fmt.Errorf("%w: its handshake does not open under ours", ErrKeyMismatch)
		}
		out := make([]byte, 2, 2+hsMsgSize)
		out, recv, send, err = hs.WriteMessage(out, nil)
		if err != nil {
			return nil, err
		}
		binary.BigEndian.PutUint16(out, uint16(len(out)-2))
		if _, err := conn.Write(out); err != nil {
			return nil, fmt.Errorf("psk: handshake: %w", err)
		}
	}
	return newConn(conn, send, recv), nil
}

// readPreamble reads the peer's first five bytes.
func readPreamble(conn net.Conn) error {
	var got [len(Preamble)]byte
	if _, err := io.ReadFull(conn, got[:]); err != nil {
		return handshakeReadErr(err)
	}
	switch string(got[:]) {
	case Preamble:
		return nil
	case plainMagic:
		return ErrPeerKeyless
	}
	return fmt.Errorf("%w (got %q)", ErrBadPreamble, got[:])
}

// readHandshakeFrame reads one handshake frame: a message of hsMsgSize
// bytes, or the refusal (length 0). A longer length is refused before any
// of it is read.
func readHandshakeFrame(conn net.Conn) ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return nil, handshakeReadErr(err)
	}
	n := int(binary.BigEndian.Uint16(hdr[:]))
	if n == 0 {
		return nil, nil
	}
	if n != hsMsgSize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrBadHandshake, n, hsMsgSize)
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(conn, msg); err != nil {
		return nil, handshakeReadErr(err)
	}
	return msg, nil
}

func handshakeReadErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("psk: handshake: the peer closed the connection: %w", io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("psk: handshake: %w", err)
}
