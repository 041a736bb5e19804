package azmp

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/seed0021ed4d/pex/bencode"
)

// The baseline decodes and encodes the same message the generic way, as
// BiglyBT does (a bencoded map of lists of byte strings): package
// bencode's Decode into map[string]any, then peers from the lists; and
// bencode.Encode of such a map. The message: 50 added peers (25 IPv4, 25
// IPv6) with handshake types, 50 dropped IPv4 peers.

func sampleExchange() *PeerExchange {
	m := &PeerExchange{InfoHash: [20]byte{1, 2, 3}}
	for i := range 50 {
		if i%2 == 0 {
			m.Added = append(m.Added, Peer{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i), 1}), uint16(6881+i)), Crypto: i%4 == 0})
		} else {
			m.Added = append(m.Added, Peer{Addr: netip.AddrPortFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i)}), uint16(6881+i))})
		}
		m.Dropped = append(m.Dropped, Peer{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 2, byte(i), 1}), uint16(7000+i))})
	}
	return m
}

func genericMap(m *PeerExchange) map[string]any {
	d := map[string]any{"infohash": string(m.InfoHash[:])}
	for key, ps := range map[string][]Peer{"added": m.Added, "dropped": m.Dropped} {
		var list []any
		hst := make([]byte, 0, len(ps))
		for _, p := range ps {
			b := p.Addr.Addr().Unmap().AsSlice()
			list = append(list, string(binary.BigEndian.AppendUint16(b, p.Addr.Port())))
			if p.Crypto {
				hst = append(hst, 1)
			} else {
				hst = append(hst, 0)
			}
		}
		d[key], d[key+"_HST"] = list, string(hst)
	}
	return d
}

func genericDecode(b []byte) ([]Peer, []Peer, error) {
	v, err := bencode.Decode(b)
	if err != nil {
		return nil, nil, err
	}
	d := v.(map[string]any)
	peers := func(key string) []Peer {
		list, _ := d[key].([]any)
		hst, _ := d[key+"_HST"].(string)
		var out []Peer
		for i, e := range list {
			s := []byte(e.(string))
			ip, _ := netip.AddrFromSlice(s[:len(s)-2])
			p := Peer{Addr: netip.AddrPortFrom(ip.Unmap(), binary.BigEndian.Uint16(s[len(s)-2:]))}
			if len(hst) == len(list) {
				p.Crypto = hst[i] == 1
			}
			out = append(out, p)
		}
		return out
	}
	return peers("added"), peers("dropped"), nil
}

func BenchmarkEncode(b *testing.B) {
	m := sampleExchange()
	b.Run("azmp", func(b *testing.B) {
		buf := make([]byte, 0, 4096)
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = AppendPeerExchange(buf[:0], m)
		}
	})
	b.Run("generic", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := bencode.Encode(genericMap(m)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	payload, _ := AppendPeerExchange(nil, sampleExchange())
	b.Run("azmp", func(b *testing.B) {
		var m PeerExchange
		b.ReportAllocs()
		for b.Loop() {
			if err := DecodePeerExchange(payload, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("generic", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if a, _, err := genericDecode(payload); err != nil || len(a) != 50 {
				b.Fatal(err)
			}
		}
	})
}
