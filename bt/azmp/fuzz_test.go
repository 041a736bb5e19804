package azmp

import (
	"bytes"
	"testing"
)

func FuzzParseFrame(f *testing.F) {
	f.Add(AppendFrame(nil, IDPeerExchange, 1, []byte("d1:xi1ee")))
	f.Add([]byte{0, 0, 0, 14, 0, 0, 0, 7, 'B', 'T', '_', 'H', 'A', 'V', 'E', 0x12, 0, 0})
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(bytes.NewReader(b), 0)
		for range 64 {
			fr, err := r.ReadFrame()
			if err != nil {
				return
			}
			if len(fr.ID) == 0 || len(fr.ID) > MaxIDLen || fr.Version > 15 {
				t.Fatalf("accepted %+v", fr)
			}
			// An unpadded frame re-encodes to what it was read from.
			if fr.Version < 2 {
				again, err := ParseFrame(AppendFrame(nil, string(fr.ID), fr.Version, fr.Payload)[4:])
				if err != nil || !bytes.Equal(again.ID, fr.ID) || !bytes.Equal(again.Payload, fr.Payload) {
					t.Fatalf("round trip: %+v %v", again, err)
				}
			}
		}
	})
}

func FuzzParseHandshake(f *testing.F) {
	h := Handshake{Client: "BiglyBT", Version: "3.2.0.0", TCPPort: 6881, Messages: []MessageInfo{{IDPeerExchange, 1}}}
	f.Add(h.Bytes())
	f.Add([]byte("d6:client3:pex8:identity20:012345678901234567898:messagesle7:version1:1e"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHandshake(b)
		if err != nil {
			return
		}
		if h.TCPPort < 0 || h.TCPPort > 65535 || len(h.Messages) > maxHandshakeMessages || len(h.Client) > maxStringLen {
			t.Fatalf("accepted %+v", h)
		}
		if _, err := ParseHandshake(h.Bytes()); err != nil {
			t.Fatalf("re-encoded handshake does not parse: %v", err)
		}
	})
}

func FuzzDecodePeerExchange(f *testing.F) {
	f.Add([]byte("d5:addedl6:\x7f\x00\x00\x05\x1a\xe1e9:added_HST1:\x018:infohash20:01234567890123456789e"))
	f.Add([]byte("d7:droppedl18:0123456789abcdef\x00\x01e8:infohash20:01234567890123456789e"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m PeerExchange
		if DecodePeerExchange(b, &m) != nil {
			return
		}
		if len(m.Added)+len(m.Dropped) == 0 {
			t.Fatal("accepted an empty exchange")
		}
		out, err := AppendPeerExchange(nil, &m)
		if err != nil {
			t.Fatal(err)
		}
		var again PeerExchange
		if err := DecodePeerExchange(out, &again); err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		if again.InfoHash != m.InfoHash || len(again.Added) != len(m.Added) || len(again.Dropped) != len(m.Dropped) {
			t.Fatalf("round trip changed the message")
		}
		for i := range m.Added {
			if again.Added[i] != m.Added[i] {
				t.Fatalf("added %d: %+v, want %+v", i, again.Added[i], m.Added[i])
			}
		}
	})
}
