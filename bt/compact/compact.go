// Package compact is BitTorrent's compact peer address format, shared by
// trackers (BEP 23 and BEP 7), ut_pex (BEP 11), AZ_PEER_EXCHANGE and the DHT:
//
//	IPv4: 4 address bytes, 2 port bytes (big endian)   6 bytes
//	IPv6: 16 address bytes, 2 port bytes (big endian) 18 bytes
//
// One rule for IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) holds in every
// direction: they are unmapped when decoded and written in the 6-byte form,
// so that one peer is one address whichever message named it. The package
// depends on the standard library only and never allocates on its own.
package compact

import (
	"encoding/binary"
	"net/netip"
)

// Entry sizes.
const (
	Size4 = 6  // an IPv4 address and port
	Size6 = 18 // an IPv6 address and port
)

// Decode4 reads the first Size4 bytes of b, which must have them.
func Decode4(b []byte) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), binary.BigEndian.Uint16(b[4:6]))
}

// Decode6 reads the first Size6 bytes of b, which must have them. An
// IPv4-mapped address comes back as IPv4.
func Decode6(b []byte) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[:16])).Unmap(), binary.BigEndian.Uint16(b[16:18]))
}

// Decode reads one entry of either size; ok is false for any other length.
func Decode(b []byte) (a netip.AddrPort, ok bool) {
	switch len(b) {
	case Size4:
		return Decode4(b), true
	case Size6:
		return Decode6(b), true
	}
	return netip.AddrPort{}, false
}

// AppendList appends the entries of a packed list of size-byte entries
// (Size4 or Size6) to dst. A trailing partial entry is ignored.
func AppendList(dst []netip.AddrPort, b []byte, size int) []netip.AddrPort {
	dec := Decode4
	if size == Size6 {
		dec = Decode6
	}
	for i := 0; i+size <= len(b); i += size {
		dst = append(dst, dec(b[i:]))
	}
	return dst
}

// Is4 reports whether a is written in the 6-byte form: IPv4, or IPv4-mapped
// IPv6.
func Is4(a netip.AddrPort) bool { return a.Addr().Unmap().Is4() }

// Valid reports whether a can be written at all: it holds an IPv4 or IPv6
// address (the zero AddrPort does not).
func Valid(a netip.AddrPort) bool { return a.Addr().IsValid() }

// Size is the number of bytes Append writes for a.
func Size(a netip.AddrPort) int {
	if Is4(a) {
		return Size4
	}
	return Size6
}

// Append writes a in its compact form: 6 bytes for IPv4 and IPv4-mapped
// IPv6, 18 bytes otherwise. It does not allocate when dst has room.
func Append(dst []byte, a netip.AddrPort) []byte {
	ip := a.Addr().Unmap()
	if ip.Is4() {
		b := ip.As4()
		dst = append(dst, b[:]...)
	} else {
		b := ip.As16()
		dst = append(dst, b[:]...)
	}
	return binary.BigEndian.AppendUint16(dst, a.Port())
}

// Unmap returns a with an IPv4-mapped address turned into IPv4: the form
// every address takes in a peer set.
func Unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}
