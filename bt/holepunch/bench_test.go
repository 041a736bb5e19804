package holepunch

import (
	"testing"

	ahp "github.com/anacrolix/torrent/peer_protocol/ut-holepunch"
)

// The baseline is anacrolix/torrent v1.59.1's ut-holepunch package:
// Msg.MarshalBinary to encode and Msg.UnmarshalBinary to decode, on the
// same six messages (each type, with an IPv4 and an IPv6 address), taken in
// turn. Only this file imports anacrolix.

func anacrolixMsgs(ms []Msg) []ahp.Msg {
	out := make([]ahp.Msg, len(ms))
	for i, m := range ms {
		out[i] = ahp.Msg{MsgType: ahp.MsgType(m.Type), AddrPort: m.Addr, ErrCode: ahp.ErrCode(m.Err)}
	}
	return out
}

func BenchmarkAppend(b *testing.B) {
	ms := sampleMsgs()
	b.Run("holepunch", func(b *testing.B) {
		buf := make([]byte, 0, MaxSize)
		b.ReportAllocs()
		i, n := 0, len(ms)
		for b.Loop() {
			var err error
			if buf, err = Append(buf[:0], ms[i]); err != nil {
				b.Fatal(err)
			}
			if i++; i == n {
				i = 0
			}
		}
	})
	b.Run("anacrolix", func(b *testing.B) {
		ams := anacrolixMsgs(ms)
		b.ReportAllocs()
		i, n := 0, len(ms)
		for b.Loop() {
			if _, err := ams[i].MarshalBinary(); err != nil {
				b.Fatal(err)
			}
			if i++; i == n {
				i = 0
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	var payloads [][]byte
	for _, m := range sampleMsgs() {
		p, _ := Append(nil, m)
		payloads = append(payloads, p)
	}
	b.Run("holepunch", func(b *testing.B) {
		b.ReportAllocs()
		i, n := 0, len(payloads)
		for b.Loop() {
			if _, err := Parse(payloads[i]); err != nil {
				b.Fatal(err)
			}
			if i++; i == n {
				i = 0
			}
		}
	})
	b.Run("anacrolix", func(b *testing.B) {
		b.ReportAllocs()
		i, n := 0, len(payloads)
		var m ahp.Msg
		for b.Loop() {
			if err := m.UnmarshalBinary(payloads[i]); err != nil {
				b.Fatal(err)
			}
			if i++; i == n {
				i = 0
			}
		}
	})
}
