// Package azmp is the Vuze (Azureus) messaging protocol, AZMP, as far as
// peer exchange needs it: choosing it in the BitTorrent handshake, its
// framing of every message once chosen, AZ_HANDSHAKE, and the
// AZ_PEER_EXCHANGE codec: byte layouts only. The limits BiglyBT holds a
// peer's AZ_PEER_EXCHANGE messages to are package bt/pex's BiglyBTRule.
// It depends on the standard library and packages bencode, bt/compact and
// bt/wire only.
//
// # Choosing AZMP
//
// A peer offers AZMP with bit 0x80 in reserved byte 0 of the 68-byte
// handshake. When both offer it and LTEP (BEP 10, 0x10 in byte 5) too,
// byte 5's low two bits say which to use: 0x02 prefers AZMP, 0x01 prefers
// LTEP, both force AZMP. BiglyBT sends 0x13 there (LTEP, forced AZMP) and
// picks AZMP when the other side prefers it too or has no LTEP; a peer that
// offers 0x80 with byte 5 = 0x10 gets LTEP. [Chosen] applies that rule,
// which both sides evaluate alike.
//
// # Framing
//
// Right after the two 68-byte handshakes every message, BitTorrent ones
// included, travels in an AZ frame:
//
//	u32  length of what follows (at least 6)
//	u32  id length (1..1024)
//	     id, ASCII: "AZ_HANDSHAKE", "AZ_PEER_EXCHANGE", "BT_INTERESTED", ...
//	u8   low 4 bits version, high 4 bits flags
//	     [u16 padding length, padding]   only if version >= 2 and flag 0x1
//	     payload (a BitTorrent message's payload without its 1-byte id)
//
// BiglyBT refuses frames over 128 KiB and closes a connection on an id it
// does not know, so a sender uses only ids the receiver listed in its
// AZ_HANDSHAKE.
//
// # AZ_PEER_EXCHANGE
//
// A bencoded dict: "infohash" (20 bytes, required); "added" and "dropped",
// each a list of 6-byte (IPv4 and port) or 18-byte (IPv6 and port)
// strings; "added_HST"/"dropped_HST", one handshake-type byte a peer (0
// plain, 1 encrypted); optional "added_UDP"/"dropped_UDP", 2 bytes a peer.
// A message with neither list is an error; a _HST or _UDP string of the
// wrong length is ignored. At most 50 peers a message ([MaxPeers]).
package azmp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/seed0021ed4d/pex/bt/wire"
	"github.com/seed0021ed4d/pex/internal/grow"
)

// Reserved-byte values.
const (
	ReservedByteAZ = wire.ReservedByteAZMP // 0
	ReservedBitAZ  = wire.ReservedBitAZMP  // 0x80
	// PreferAZBit in byte 5 prefers AZMP over LTEP; with 0x01 as well it
	// forces AZMP.
	PreferAZBit = 0x02
	// PreferAZ is what pex (like BiglyBT) puts in byte 5's low bits.
	PreferAZ = 0x03
)

// Offer sets AZMP's bits in a handshake's reserved bytes: support, and
// preference over LTEP.
func Offer(reserved *[8]byte) {
	reserved[ReservedByteAZ] |= ReservedBitAZ
	reserved[wire.ReservedByteLTEP] |= PreferAZ
}

// Offered reports whether reserved bytes offer AZMP.
func Offered(reserved [8]byte) bool { return reserved[ReservedByteAZ]&ReservedBitAZ != 0 }

// Chosen reports whether a connection whose two sides sent these reserved
// bytes runs AZMP: both offer it, and the remote side either prefers it
// (bit 0x02 in byte 5) or has no LTEP.
func Chosen(ours, theirs [8]byte) bool {
	if !Offered(ours) || !Offered(theirs) {
		return false
	}
	ltep := theirs[wire.ReservedByteLTEP]&wire.ReservedBitLTEP != 0
	return !ltep || theirs[wire.ReservedByteLTEP]&PreferAZBit != 0
}

// Message ids.
const (
	IDHandshake    = "AZ_HANDSHAKE"
	IDPeerExchange = "AZ_PEER_EXCHANGE"
	IDKeepAlive    = "BT_KEEP_ALIVE"
	IDChoke        = "BT_CHOKE"
	IDUnchoke      = "BT_UNCHOKE"
	IDInterested   = "BT_INTERESTED"
	IDUninterested = "BT_UNINTERESTED"
	IDHave         = "BT_HAVE"
	IDBitfield     = "BT_BITFIELD"
	IDRequest      = "BT_REQUEST"
	IDPiece        = "BT_PIECE"
	IDCancel       = "BT_CANCEL"
)

// Frame limits.
const (
	MinFrame   = 6         // id length, a 1-byte id, the version
	MaxFrame   = 128 << 10 // BiglyBT's limit
	MaxIDLen   = 1024
	headerSize = 4 + 4 + 1
)

// Frame is one AZ message. ID and Payload alias the buffer they were read
// from.
type Frame struct {
	ID      []byte
	Version byte // low 4 bits of the version byte
	Payload []byte
}

// Errors from the frame decoder; each ends the connection.
var (
	ErrFrameTooLarge = errors.New("azmp: frame too large")
	ErrBadFrame      = errors.New("azmp: malformed frame")
)

// AppendFrame appends one unpadded frame.
func AppendFrame(dst []byte, id string, version byte, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(4+len(id)+1+len(payload)))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(id)))
	dst = append(dst, id...)
	dst = append(dst, version&0x0f)
	return append(dst, payload...)
}

// ParseFrame decodes a frame's body (everything after the length prefix).
func ParseFrame(b []byte) (Frame, error) {
	if len(b) < MinFrame {
		return Frame{}, fmt.Errorf("%w: %d bytes", ErrBadFrame, len(b))
	}
	n := binary.BigEndian.Uint32(b)
	if n < 1 || n > MaxIDLen || int(n) > len(b)-5 {
		return Frame{}, fmt.Errorf("%w: id length %d in %d bytes", ErrBadFrame, n, len(b))
	}
	f := Frame{ID: b[4 : 4+n]}
	vf := b[4+n]
	f.Version = vf & 0x0f
	rest := b[5+n:]
	if f.Version >= 2 && vf>>4&0x01 != 0 {
		if len(rest) < 2 {
			return Frame{}, fmt.Errorf("%w: truncated padding length", ErrBadFrame)
		}
		pad := int(binary.BigEndian.Uint16(rest))
		if len(rest) < 2+pad {
			return Frame{}, fmt.Errorf("%w: padding of %d bytes in %d", ErrBadFrame, pad, len(rest)-2)
		}
		rest = rest[2+pad:]
	}
	for _, c := range f.ID {
		if c < 0x21 || c > 0x7e {
			return Frame{}, fmt.Errorf("%w: id is not printable ASCII", ErrBadFrame)
		}
	}
	f.Payload = rest
	return f, nil
}

// Reader reads frames from a stream.
type Reader struct {
	r   io.Reader
	max int
	buf []byte
}

// NewReader returns a Reader refusing frames over max bytes (MaxFrame if
// max <= 0 or larger).
func NewReader(r io.Reader, max int) *Reader {
	if max <= 0 || max > MaxFrame {
		max = MaxFrame
	}
	return &Reader{r: r, max: max}
}

// Release gives back the last frame's buffer (its payload must no longer
// be used); the next ReadFrame does it too.
func (r *Reader) Release() { r.buf = grow.Release(r.buf) }

// ReadFrame reads the next frame; it is valid until the next call.
func (r *Reader) ReadFrame() (Frame, error) {
	r.buf = grow.Release(r.buf) // the last frame's buffer: none is held while waiting
	var l [4]byte
	if _, err := io.ReadFull(r.r, l[:]); err != nil {
		return Frame{}, err
	}
	n := binary.BigEndian.Uint32(l[:])
	if n > uint32(r.max) {
		return Frame{}, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, r.max)
	}
	if n < MinFrame {
		return Frame{}, fmt.Errorf("%w: length %d", ErrBadFrame, n)
	}
	// The buffer grows with the bytes that arrive, not with n.
	b, err := grow.Read(r.r, nil, int(n))
	r.buf = b
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, err
	}
	return ParseFrame(b)
}
