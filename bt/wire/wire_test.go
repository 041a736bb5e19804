package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"testing"
)

func TestHandshakeRoundTrip(t *testing.T) {
	h := Handshake{InfoHash: [20]byte{1, 2, 3}, PeerID: [20]byte{'-', 'P', 'X'}}
	h.Reserved[ReservedByteLTEP] |= ReservedBitLTEP
	b := h.Append(nil)
	if len(b) != HandshakeLen || b[0] != 19 || b[25] != 0x10 {
		t.Fatalf("% x", b)
	}
	got, err := ReadHandshake(bytes.NewReader(b))
	if err != nil || got != h || !got.LTEP() {
		t.Fatalf("%v %v", got, err)
	}
	b[5] = 'X'
	if _, err := ParseHandshake(b); !errors.Is(err, ErrNotBitTorrent) {
		t.Fatal(err)
	}
	if _, err := ReadHandshake(bytes.NewReader(b[:30])); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatal(err)
	}
}

func TestMessages(t *testing.T) {
	var b []byte
	b = AppendKeepAlive(b)
	b = AppendMessage(b, MsgInterested, nil)
	b = AppendExtended(b, 1, []byte("de"))
	r := NewReader(bytes.NewReader(b), 100)
	if m, err := r.ReadMessage(); err != nil || !m.KeepAlive {
		t.Fatal(m, err)
	}
	if m, err := r.ReadMessage(); err != nil || m.ID != MsgInterested || len(m.Payload) != 0 {
		t.Fatal(m, err)
	}
	if m, err := r.ReadMessage(); err != nil || m.ID != MsgExtended || string(m.Payload) != "\x01de" {
		t.Fatal(m, err)
	}
	if _, err := r.ReadMessage(); err != io.EOF {
		t.Fatal(err)
	}
	big := AppendMessage(nil, 7, make([]byte, 200))
	if _, err := NewReader(bytes.NewReader(big), 100).ReadMessage(); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatal(err)
	}
	if _, err := NewReader(bytes.NewReader(big[:50]), 1000).ReadMessage(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatal(err)
	}
}

func TestExtHandshake(t *testing.T) {
	h := ExtHandshake{M: map[string]int{"ut_pex": 1, "ut_metadata": 0}, Port: 6881, Version: "pex/0.1",
		YourIP: netip.MustParseAddr("127.0.0.2"), IPv4: netip.MustParseAddr("127.0.0.3"), ReqQ: 250, Encryption: true}
	got, err := ParseExtHandshake(h.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got.M["ut_pex"] != 1 || got.Port != 6881 || got.Version != "pex/0.1" || got.YourIP != h.YourIP || got.IPv4 != h.IPv4 || got.ReqQ != 250 || !got.Encryption {
		t.Fatalf("%+v", got)
	}
	// aria2 names ut_pex 8; extra keys and trailing data are fine.
	got, err = ParseExtHandshake([]byte("d1:md6:ut_pexi8ee1:v12:aria2/1.36.04:junki1ee\x00\x01"))
	if err != nil || got.M["ut_pex"] != 8 || got.Version != "aria2/1.36.0" {
		t.Fatalf("%+v %v", got, err)
	}
	for _, bad := range []string{"", "le", "d1:m", "i5e"} {
		if _, err := ParseExtHandshake([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseHandshake(f *testing.F) {
	f.Add((&Handshake{}).Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHandshake(b)
		if err == nil && !bytes.Equal(h.Append(nil), b[:HandshakeLen]) {
			t.Fatal("round trip")
		}
	})
}

func FuzzReadMessage(f *testing.F) {
	f.Add(AppendExtended(AppendKeepAlive(nil), 1, []byte("de")))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(bytes.NewReader(b), 1024)
		for i := 0; i < 100; i++ {
			m, err := r.ReadMessage()
			if err != nil {
				return
			}
			if len(m.Payload) > 1024 {
				t.Fatal("over the limit")
			}
		}
	})
}

func FuzzParseExtHandshake(f *testing.F) {
	f.Add((&ExtHandshake{M: map[string]int{"ut_pex": 1}, Port: 1}).Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseExtHandshake(b)
		if err != nil {
			return
		}
		if h.Port < 0 || h.Port > 65535 {
			t.Fatal("port out of range")
		}
		if _, err := ParseExtHandshake(h.Bytes()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestExtHandshakeSizeCapped(t *testing.T) {
	big := append([]byte("d1:v"), []byte(fmt.Sprintf("%d:", MaxExtHandshake))...)
	big = append(big, make([]byte, MaxExtHandshake)...)
	big = append(big, 'e')
	if _, err := ParseExtHandshake(big); err == nil {
		t.Fatal("an extended handshake over the cap was decoded")
	}
}
