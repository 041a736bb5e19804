package pex

import (
	"net"
	"testing"

	"github.com/anacrolix/dht/v2/krpc"
	abencode "github.com/anacrolix/torrent/bencode"
	pp "github.com/anacrolix/torrent/peer_protocol"
)

// The baseline is anacrolix/torrent v1.59.1: bencode.Marshal(&PexMsg) to
// encode and LoadPexMsg to decode, on the same message: 50 IPv4 and 50 IPv6
// added peers with flags, and two dropped. Only this file imports anacrolix.

func anacrolixMsg(m *Msg) *pp.PexMsg {
	var am pp.PexMsg
	for _, p := range m.Added {
		ip := net.IP(p.Addr.Addr().AsSlice())
		na := krpcAddr(ip, int(p.Addr.Port()))
		if p.Addr.Addr().Is4() {
			am.Added = append(am.Added, na)
			am.AddedFlags = append(am.AddedFlags, pp.PexPeerFlags(p.Flags))
		} else {
			am.Added6 = append(am.Added6, na)
			am.Added6Flags = append(am.Added6Flags, pp.PexPeerFlags(p.Flags))
		}
	}
	for _, a := range m.Dropped {
		ip := net.IP(a.Addr().AsSlice())
		if a.Addr().Is4() {
			am.Dropped = append(am.Dropped, krpcAddr(ip, int(a.Port())))
		} else {
			am.Dropped6 = append(am.Dropped6, krpcAddr(ip, int(a.Port())))
		}
	}
	return &am
}

func BenchmarkEncode(b *testing.B) {
	m := sampleMsg()
	b.Run("pex", func(b *testing.B) {
		buf := make([]byte, 0, 4096)
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = Append(buf[:0], m)
		}
	})
	b.Run("anacrolix", func(b *testing.B) {
		am := anacrolixMsg(m)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := abencode.Marshal(am); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	payload, _ := Append(nil, sampleMsg())
	b.Run("pex", func(b *testing.B) {
		var m Msg
		b.ReportAllocs()
		for b.Loop() {
			if err := Decode(payload, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("anacrolix", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := pp.LoadPexMsg(payload); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func krpcAddr(ip net.IP, port int) krpc.NodeAddr { return krpc.NodeAddr{IP: ip, Port: port} }
