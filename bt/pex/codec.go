// Package pex implements BitTorrent peer exchange, ut_pex (BEP 11): the
// message codec, which neither allocates nor panics, and the per-connection
// state of both PEX networks pex speaks: a Sender that keeps BEP 11's
// limits when telling a peer, and a Receiver that holds a peer's ut_pex or
// AZ_PEER_EXCHANGE messages (package bt/azmp's layout) to a Rule, with
// presets for libtorrent's rule and BiglyBT's.
//
// # Wire format
//
// A ut_pex message is the payload of an LTEP message (BEP 10: BitTorrent
// message id 20, then the extended id the receiver chose for "ut_pex" in its
// extended handshake, then this payload). It is one bencoded dict; every key
// is optional; unknown keys and bytes after the dict are ignored:
//
//	added     compact IPv4 peers, 6 bytes each: 4 address bytes, 2 port bytes (big endian)
//	added.f   one flag byte per added peer
//	added6    compact IPv6 peers, 18 bytes each: 16 address bytes, 2 port bytes
//	added6.f  one flag byte per added6 peer
//	dropped   compact IPv4 peers no longer connected
//	dropped6  compact IPv6 peers no longer connected
//
// Flags: 0x01 prefers encryption, 0x02 seed or upload only, 0x04 supports
// uTP, 0x08 supports ut_holepunch, 0x10 reachable (the sender connected to
// it). A flags string whose length does not match its peer list makes the
// whole list unusable (libtorrent drops it too); rtorrent sends no flags at
// all, which is fine.
package pex

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/seed0021ed4d/pex/bencode"
	"github.com/seed0021ed4d/pex/bt/compact"
)

// Flags describe an added peer (BEP 11).
type Flags uint8

// Flag bits.
const (
	FlagEncryption Flags = 0x01
	FlagSeed       Flags = 0x02
	FlagUTP        Flags = 0x04
	FlagHolepunch  Flags = 0x08
	FlagReachable  Flags = 0x10
)

// Peer is an added peer and its flags.
type Peer struct {
	Addr  netip.AddrPort
	Flags Flags
}

// Msg is one ut_pex message. Decode reuses its slices, so a Msg kept for
// the life of a connection decodes without allocating.
type Msg struct {
	Added    []Peer // IPv4 (from added) then IPv6 (from added6)
	Dropped  []netip.AddrPort
	BadFlags bool // a flags string had the wrong length; its list was dropped
}

// Reset empties m, keeping its capacity.
func (m *Msg) Reset() {
	m.Added = m.Added[:0]
	m.Dropped = m.Dropped[:0]
	m.BadFlags = false
}

// DecodeError is a ut_pex payload that is not a well-formed message.
type DecodeError struct{ Reason string }

func (e *DecodeError) Error() string { return "ut_pex: " + e.Reason }

var errNotDict = &DecodeError{Reason: "payload is not a bencoded dict"}

// Decode parses payload into m (which is reset first).
func Decode(payload []byte, m *Msg) error {
	m.Reset()
	b := payload
	if len(b) == 0 || b[0] != 'd' {
		return errNotDict
	}
	b = b[1:]
	var added, addedF, added6, added6F, dropped, dropped6 []byte
	for {
		if len(b) == 0 {
			return &DecodeError{Reason: "unterminated dict"}
		}
		if b[0] == 'e' {
			break
		}
		key, rest, err := bencode.ReadString(b)
		if err != nil {
			return &DecodeError{Reason: "bad dict key"}
		}
		b = rest
		var dst *[]byte
		switch string(key) { // no allocation: the compiler compares in place
		case "added":
			dst = &added
		case "added.f":
			dst = &addedF
		case "added6":
			dst = &added6
		case "added6.f":
			dst = &added6F
		case "dropped":
			dst = &dropped
		case "dropped6":
			dst = &dropped6
		}
		if dst != nil && len(b) > 0 && b[0] >= '0' && b[0] <= '9' {
			v, rest, err := bencode.ReadString(b)
			if err != nil {
				return &DecodeError{Reason: fmt.Sprintf("bad value for %q", key)}
			}
			*dst, b = v, rest
			continue
		}
		if b, err = bencode.Skip(b); err != nil {
			return &DecodeError{Reason: "bad value in dict"}
		}
	}
	if len(added)%6 != 0 || len(added6)%18 != 0 || len(dropped)%6 != 0 || len(dropped6)%18 != 0 {
		return &DecodeError{Reason: "compact peer list of a wrong length"}
	}
	if addedF != nil && len(addedF) != len(added)/6 {
		m.BadFlags, added = true, nil
	}
	if added6F != nil && len(added6F) != len(added6)/18 {
		m.BadFlags, added6 = true, nil
	}
	n4, n6 := len(added)/6, len(added6)/18
	m.Added = slices.Grow(m.Added[:0], n4+n6)[:n4+n6]
	for i := 0; i < n4; i++ {
		e := added[6*i : 6*i+6]
		m.Added[i] = Peer{Addr: compact.Decode4(e)}
		if addedF != nil {
			m.Added[i].Flags = Flags(addedF[i])
		}
	}
	for i := 0; i < n6; i++ {
		e := added6[18*i : 18*i+18]
		m.Added[n4+i] = Peer{Addr: compact.Decode6(e)}
		if added6F != nil {
			m.Added[n4+i].Flags = Flags(added6F[i])
		}
	}
	m.Dropped = compact.AppendList(m.Dropped, dropped, compact.Size4)
	m.Dropped = compact.AppendList(m.Dropped, dropped6, compact.Size6)
	return nil
}

// ErrUnsupportedAddr is returned by Append for an address that is neither
// IPv4 nor IPv6 (the zero AddrPort).
var ErrUnsupportedAddr = errors.New("ut_pex: address is neither IPv4 nor IPv6")

// Append encodes m onto dst: all six keys, in sorted order, IPv4 peers
// (and IPv4-mapped IPv6) under added/dropped, IPv6 under added6/dropped6. It
// does not allocate when dst has room.
func Append(dst []byte, m *Msg) ([]byte, error) {
	var n4, n6, d4, d6 int
	for _, p := range m.Added {
		switch {
		case !compact.Valid(p.Addr):
			return dst, ErrUnsupportedAddr
		case compact.Is4(p.Addr):
			n4++
		default:
			n6++
		}
	}
	for _, a := range m.Dropped {
		switch {
		case !compact.Valid(a):
			return dst, ErrUnsupportedAddr
		case compact.Is4(a):
			d4++
		default:
			d6++
		}
	}
	dst = append(dst, 'd')
	dst = appendKeyLen(dst, "added", 6*n4)
	for _, p := range m.Added {
		if compact.Is4(p.Addr) {
			dst = compact.Append(dst, p.Addr)
		}
	}
	dst = appendKeyLen(dst, "added.f", n4)
	for _, p := range m.Added {
		if compact.Is4(p.Addr) {
			dst = append(dst, byte(p.Flags))
		}
	}
	dst = appendKeyLen(dst, "added6", 18*n6)
	for _, p := range m.Added {
		if !compact.Is4(p.Addr) {
			dst = compact.Append(dst, p.Addr)
		}
	}
	dst = appendKeyLen(dst, "added6.f", n6)
	for _, p := range m.Added {
		if !compact.Is4(p.Addr) {
			dst = append(dst, byte(p.Flags))
		}
	}
	dst = appendKeyLen(dst, "dropped", 6*d4)
	for _, a := range m.Dropped {
		if compact.Is4(a) {
			dst = compact.Append(dst, a)
		}
	}
	dst = appendKeyLen(dst, "dropped6", 18*d6)
	for _, a := range m.Dropped {
		if !compact.Is4(a) {
			dst = compact.Append(dst, a)
		}
	}
	return append(dst, 'e'), nil
}

// appendKeyLen writes a key and the length prefix of its string value.
func appendKeyLen(dst []byte, key string, n int) []byte {
	dst = bencode.AppendString(dst, key)
	dst = appendUint(dst, n)
	return append(dst, ':')
}

func appendUint(dst []byte, n int) []byte {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(dst, buf[i:]...)
}
