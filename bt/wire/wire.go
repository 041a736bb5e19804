// Package wire is the BitTorrent peer wire (BEP 3) as far as peer exchange
// needs it: the handshake, length-prefixed messages, and the extension
// protocol's handshake (BEP 10). It has no engine and no dependencies but
// the standard library and package bencode.
//
// # Handshake (68 bytes)
//
//	1 byte   19
//	19 bytes "BitTorrent protocol"
//	8 bytes  reserved: byte 5 bit 0x10 = extension protocol (BEP 10);
//	         byte 0 bit 0x80 = Vuze AZMP (see package bt/azmp)
//	20 bytes infohash
//	20 bytes peer id
//
// # Messages
//
//	4 bytes big-endian length (0 is a keep-alive), then 1 byte id, then payload
//
// id 20 is an extension message: 1 byte extended id (0 = the extended
// handshake, a bencoded dict), then that extension's payload. A peer sends
// an extension message under the id the *receiver* chose in its handshake's
// "m" dict.
package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/seed0021ed4d/pex/bencode"
	"github.com/seed0021ed4d/pex/internal/grow"
)

// Protocol is the handshake's protocol string.
const Protocol = "BitTorrent protocol"

// HandshakeLen is the size of a handshake.
const HandshakeLen = 68

// Reserved bits.
const (
	ReservedByteLTEP = 5
	ReservedBitLTEP  = 0x10 // BEP 10
	ReservedByteAZMP = 0
	ReservedBitAZMP  = 0x80 // Vuze messaging protocol
)

// Message ids used here (BEP 3, BEP 10).
const (
	MsgChoke         = 0
	MsgUnchoke       = 1
	MsgInterested    = 2
	MsgNotInterested = 3
	MsgHave          = 4
	MsgBitfield      = 5
	MsgExtended      = 20
)

// Handshake is the 68-byte handshake.
type Handshake struct {
	Reserved [8]byte
	InfoHash [20]byte
	PeerID   [20]byte
}

// LTEP reports the extension protocol bit.
func (h *Handshake) LTEP() bool { return h.Reserved[ReservedByteLTEP]&ReservedBitLTEP != 0 }

// Append encodes h onto dst.
func (h *Handshake) Append(dst []byte) []byte {
	dst = append(dst, byte(len(Protocol)))
	dst = append(dst, Protocol...)
	dst = append(dst, h.Reserved[:]...)
	dst = append(dst, h.InfoHash[:]...)
	return append(dst, h.PeerID[:]...)
}

// ErrNotBitTorrent is returned for a handshake with another protocol string.
var ErrNotBitTorrent = errors.New("wire: not a BitTorrent handshake")

// ParseHandshake decodes a 68-byte handshake.
func ParseHandshake(b []byte) (Handshake, error) {
	var h Handshake
	if len(b) < HandshakeLen {
		return h, io.ErrUnexpectedEOF
	}
	if b[0] != byte(len(Protocol)) || string(b[1:20]) != Protocol {
		return h, ErrNotBitTorrent
	}
	copy(h.Reserved[:], b[20:28])
	copy(h.InfoHash[:], b[28:48])
	copy(h.PeerID[:], b[48:68])
	return h, nil
}

// ReadHandshake reads a handshake from r.
func ReadHandshake(r io.Reader) (Handshake, error) {
	var b [HandshakeLen]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return Handshake{}, err
	}
	return ParseHandshake(b[:])
}

// DefaultMaxMessage caps a message's length when none is given: a 16 KiB
// block plus headers is the largest message peers need to send.
const DefaultMaxMessage = 1 << 20

// ErrMessageTooLarge is wrapped for a message over the reader's limit.
var ErrMessageTooLarge = errors.New("wire: message too large")

// Reader reads length-prefixed messages.
type Reader struct {
	r   io.Reader
	max int
	buf []byte
}

// NewReader returns a Reader refusing messages over max bytes
// (DefaultMaxMessage if max <= 0).
func NewReader(r io.Reader, max int) *Reader {
	if max <= 0 {
		max = DefaultMaxMessage
	}
	return &Reader{r: r, max: max}
}

// Message is one message; Payload aliases the reader's buffer until the
// next ReadMessage. A keep-alive has KeepAlive set.
type Message struct {
	KeepAlive bool
	ID        byte
	Payload   []byte
}

// Release gives back the last message's buffer (its Payload must no
// longer be used); the next ReadMessage does it too. A caller that waits
// for the next message elsewhere releases it first, so that an idle link
// holds none.
func (r *Reader) Release() { r.buf = grow.Release(r.buf) }

// ReadMessage reads the next message.
func (r *Reader) ReadMessage() (Message, error) {
	r.buf = grow.Release(r.buf) // the last payload's buffer: none is held while waiting
	var l [4]byte
	if _, err := io.ReadFull(r.r, l[:]); err != nil {
		return Message{}, err
	}
	n := binary.BigEndian.Uint32(l[:])
	if n == 0 {
		return Message{KeepAlive: true}, nil
	}
	if n > uint32(r.max) {
		return Message{}, fmt.Errorf("%w: %d bytes, limit %d", ErrMessageTooLarge, n, r.max)
	}
	// The buffer grows with the bytes that arrive, not with n.
	b, err := grow.Read(r.r, nil, int(n))
	r.buf = b
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Message{}, err
	}
	return Message{ID: b[0], Payload: b[1:]}, nil
}

// AppendMessage appends a message with id and payload.
func AppendMessage(dst []byte, id byte, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(1+len(payload)))
	dst = append(dst, id)
	return append(dst, payload...)
}

// AppendKeepAlive appends a keep-alive.
func AppendKeepAlive(dst []byte) []byte { return append(dst, 0, 0, 0, 0) }

// AppendExtended appends an extension message with the given extended id.
func AppendExtended(dst []byte, extID byte, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(2+len(payload)))
	dst = append(dst, MsgExtended, extID)
	return append(dst, payload...)
}

// ExtHandshake is the extension protocol handshake (BEP 10). Unknown keys
// are ignored when decoding.
type ExtHandshake struct {
	M          map[string]int // extension name -> the id the sender receives it under; 0 disables
	Port       int            // p: the sender's TCP listen port, 0 if unknown
	Version    string         // v: client name and version
	YourIP     netip.Addr     // yourip: the receiver's address as the sender sees it
	IPv4, IPv6 netip.Addr     // the sender's own addresses
	ReqQ       int            // reqq
	Encryption bool           // e
	UploadOnly bool           // upload_only
}

// Bytes encodes the handshake as a bencoded dict.
func (h *ExtHandshake) Bytes() []byte {
	m := map[string]any{}
	for k, v := range h.M {
		m[k] = int64(v)
	}
	d := map[string]any{"m": m}
	if h.Port > 0 {
		d["p"] = int64(h.Port)
	}
	if h.Version != "" {
		d["v"] = h.Version
	}
	if h.YourIP.IsValid() {
		d["yourip"] = string(h.YourIP.Unmap().AsSlice())
	}
	if h.IPv4.IsValid() && h.IPv4.Unmap().Is4() {
		d["ipv4"] = string(h.IPv4.Unmap().AsSlice())
	}
	if h.IPv6.IsValid() && h.IPv6.Is6() && !h.IPv6.Is4In6() {
		d["ipv6"] = string(h.IPv6.AsSlice())
	}
	if h.ReqQ > 0 {
		d["reqq"] = int64(h.ReqQ)
	}
	if h.Encryption {
		d["e"] = int64(1)
	}
	if h.UploadOnly {
		d["upload_only"] = int64(1)
	}
	b, _ := bencode.Encode(d) // only encodable types above
	return b
}

// MaxExtHandshake bounds an extended handshake's payload. libtorrent's,
// Transmission's and BiglyBT's are a few hundred bytes; decoding a large
// one costs CPU an attacker would spend nothing on.
const MaxExtHandshake = 16 << 10

// ParseExtHandshake decodes an extended handshake payload of at most
// MaxExtHandshake bytes. Bytes after the dict are ignored (BEP 10 allows
// extra data).
func ParseExtHandshake(b []byte) (ExtHandshake, error) {
	var h ExtHandshake
	if len(b) > MaxExtHandshake {
		return h, fmt.Errorf("wire: extended handshake of %d bytes, limit %d", len(b), MaxExtHandshake)
	}
	v, _, err := bencode.DecodePrefix(b)
	if err != nil {
		return h, fmt.Errorf("wire: extended handshake: %w", err)
	}
	d, ok := v.(map[string]any)
	if !ok {
		return h, errors.New("wire: extended handshake is not a dict")
	}
	h.M = map[string]int{}
	if m, ok := d["m"].(map[string]any); ok {
		for k, v := range m {
			if n, ok := v.(int64); ok && n >= 0 && n <= 255 {
				h.M[k] = int(n)
			}
		}
	}
	if p, ok := d["p"].(int64); ok && p > 0 && p < 65536 {
		h.Port = int(p)
	}
	if s, ok := d["v"].(string); ok {
		h.Version = string(bytes.ToValidUTF8([]byte(s), []byte("?")))
		if len(h.Version) > 64 {
			h.Version = h.Version[:64]
		}
	}
	h.YourIP = addrOf(d["yourip"])
	h.IPv4 = addrOf(d["ipv4"])
	h.IPv6 = addrOf(d["ipv6"])
	if q, ok := d["reqq"].(int64); ok && q > 0 && q < 1<<20 {
		h.ReqQ = int(q)
	}
	h.Encryption = d["e"] == int64(1)
	h.UploadOnly = d["upload_only"] == int64(1)
	return h, nil
}

func addrOf(v any) netip.Addr {
	s, ok := v.(string)
	if !ok {
		return netip.Addr{}
	}
	a, ok := netip.AddrFromSlice([]byte(s))
	if !ok {
		return netip.Addr{}
	}
	return a
}
