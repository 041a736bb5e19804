package azmp

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestChosen(t *testing.T) {
	var ours [8]byte
	ours[5] = 0x10
	Offer(&ours)
	if ours[0] != 0x80 || ours[5] != 0x13 {
		t.Fatalf("offer = % x, want 80 .. 13 (BiglyBT's own bytes)", ours)
	}
	r := func(b0, b5 byte) [8]byte { return [8]byte{b0, 0, 0, 0, 0, b5, 0, 0} }
	for _, c := range []struct {
		name   string
		theirs [8]byte
		want   bool
	}{
		{"BiglyBT 80/13", r(0x80, 0x13), true},
		{"AZ, prefers AZ", r(0x80, 0x12), true},
		{"AZ without LTEP", r(0x80, 0x00), true},
		{"AZ with LTEP, no preference", r(0x80, 0x10), false},
		{"AZ, prefers LTEP", r(0x80, 0x11), false},
		{"libtorrent", r(0x00, 0x10), false},
		{"nothing", r(0, 0), false},
	} {
		if got := Chosen(ours, c.theirs); got != c.want {
			t.Errorf("%s: Chosen = %v, want %v", c.name, got, c.want)
		}
	}
	if Chosen([8]byte{0, 0, 0, 0, 0, 0x10}, r(0x80, 0x13)) {
		t.Error("chosen although we did not offer it")
	}
}

func TestFrameRoundTrip(t *testing.T) {
	b := AppendFrame(nil, IDPeerExchange, 1, []byte("d1:xi1ee"))
	b = AppendFrame(b, IDKeepAlive, 2, nil)
	r := NewReader(bytes.NewReader(b), 0)
	f, err := r.ReadFrame()
	if err != nil || string(f.ID) != IDPeerExchange || f.Version != 1 || string(f.Payload) != "d1:xi1ee" {
		t.Fatalf("frame 1: %+v %v", f, err)
	}
	f, err = r.ReadFrame()
	if err != nil || string(f.ID) != IDKeepAlive || f.Version != 2 || len(f.Payload) != 0 {
		t.Fatalf("frame 2: %+v %v", f, err)
	}
}

// A frame with version 2 and flag 1 carries padding before its payload.
func TestFramePadding(t *testing.T) {
	body := []byte{0, 0, 0, 7}
	body = append(body, "BT_HAVE"...)
	body = append(body, 0x12, 0, 3, 9, 9, 9, 0, 0, 0, 5)
	f, err := ParseFrame(body)
	if err != nil || string(f.ID) != IDHave || f.Version != 2 || !bytes.Equal(f.Payload, []byte{0, 0, 0, 5}) {
		t.Fatalf("%+v %v", f, err)
	}
	// Version 1 ignores the flag bits: no padding.
	body[4+7] = 0x11
	if f, err = ParseFrame(body); err != nil || f.Version != 1 || len(f.Payload) != 9 {
		t.Fatalf("%+v %v", f, err)
	}
}

func TestFrameErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []byte
		want error
	}{
		{"too short", []byte{0, 0, 0, 1}, ErrBadFrame},
		{"length below minimum", []byte{0, 0, 0, 3, 0, 0, 0}, ErrBadFrame},
		{"too large", []byte{0, 2, 0, 1}, ErrFrameTooLarge},
		{"id length 0", append([]byte{0, 0, 0, 6}, 0, 0, 0, 0, 'A', 1), ErrBadFrame},
		{"id length past end", append([]byte{0, 0, 0, 6}, 0, 0, 0, 9, 'A', 1), ErrBadFrame},
		{"unprintable id", append([]byte{0, 0, 0, 6}, 0, 0, 0, 1, 0, 1), ErrBadFrame},
		{"padding past end", append([]byte{0, 0, 0, 8}, 0, 0, 0, 1, 'A', 0x12, 0, 9), ErrBadFrame},
		{"truncated", []byte{0, 0, 0, 20, 0, 0}, nil},
	} {
		_, err := NewReader(bytes.NewReader(c.in), 0).ReadFrame()
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
}

func TestHandshakeRoundTrip(t *testing.T) {
	h := Handshake{Client: "pex", Version: "0.1", TCPPort: 6881, HandshakeType: HandshakePlain,
		Messages: []MessageInfo{{IDHandshake, 1}, {IDPeerExchange, 1}, {IDKeepAlive, 2}}}
	copy(h.Identity[:], "01234567890123456789")
	got, err := ParseHandshake(h.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got.Identity != h.Identity || got.Client != "pex" || got.Version != "0.1" || got.TCPPort != 6881 || len(got.Messages) != 2 {
		t.Fatalf("%+v", got)
	}
	if v, ok := got.Supports(IDPeerExchange); !ok || v != 1 {
		t.Fatalf("Supports(AZ_PEER_EXCHANGE) = %d %v", v, ok)
	}
	if _, ok := got.Supports(IDHandshake); ok {
		t.Fatal("AZ_HANDSHAKE listed itself")
	}
}

func TestHandshakeErrors(t *testing.T) {
	for name, in := range map[string]string{
		"not bencode":    "x",
		"not a dict":     "le",
		"no identity":    "d6:client3:pex8:messagesle7:version1:1e",
		"short identity": "d6:client3:pex8:identity3:abc8:messageslee",
		"no messages":    "d6:client3:pex8:identity20:012345678901234567897:version1:1e",
		"ver of 2 bytes": "d6:client3:pex8:identity20:0123456789012345678908:messagesld2:id1:X3:ver2:11eee7:version1:1e",
		"entry not dict": "d6:client3:pex8:identity20:012345678901234567898:messagesli1ee7:version1:1e",
	} {
		if _, err := ParseHandshake([]byte(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

var ih = [20]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}

// The layout BiglyBT sends, as captured on loopback.
func TestDecodeBiglyBTLayout(t *testing.T) {
	in := "d5:addedl6:\x7f\x00\x00\x05\x1a\xe16:\x7f\x00\x00\x08\x1a\xe2e9:added_HST2:\x00\x018:infohash20:" + string(ih[:]) + "e"
	var m PeerExchange
	if err := DecodePeerExchange([]byte(in), &m); err != nil {
		t.Fatal(err)
	}
	want := []Peer{{Addr: netip.MustParseAddrPort("127.0.0.5:6881")}, {Addr: netip.MustParseAddrPort("127.0.0.8:6882"), Crypto: true}}
	if m.InfoHash != ih || len(m.Added) != 2 || m.Added[0] != want[0] || m.Added[1] != want[1] || len(m.Dropped) != 0 {
		t.Fatalf("%+v", m)
	}
}

func TestExchangeRoundTrip(t *testing.T) {
	m := PeerExchange{InfoHash: ih}
	for i := range 50 {
		m.Added = append(m.Added, Peer{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i), 1}), uint16(1000+i)), Crypto: i%2 == 0})
		m.Dropped = append(m.Dropped, Peer{Addr: netip.AddrPortFrom(netip.AddrFrom16([16]byte{0x20, 1, 15: byte(i)}), uint16(2000+i)), UDPPort: uint16(i + 1)})
	}
	b, err := AppendPeerExchange(nil, &m)
	if err != nil {
		t.Fatal(err)
	}
	var got PeerExchange
	if err := DecodePeerExchange(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.InfoHash != ih || len(got.Added) != 50 || len(got.Dropped) != 50 {
		t.Fatalf("%d added, %d dropped", len(got.Added), len(got.Dropped))
	}
	for i := range m.Added {
		if got.Added[i] != m.Added[i] || got.Dropped[i] != m.Dropped[i] {
			t.Fatalf("entry %d: %+v %+v, want %+v %+v", i, got.Added[i], got.Dropped[i], m.Added[i], m.Dropped[i])
		}
	}
	allocs := testing.AllocsPerRun(100, func() { DecodePeerExchange(b, &got) })
	buf := make([]byte, 0, 4096)
	allocs += testing.AllocsPerRun(100, func() { AppendPeerExchange(buf[:0], &m) })
	if allocs != 0 {
		t.Fatalf("%v allocations, want 0", allocs)
	}
}

func TestExchangeErrors(t *testing.T) {
	hash := "8:infohash20:" + string(ih[:])
	for name, in := range map[string]string{
		"empty":             "d" + hash + "e",
		"empty lists":       "d5:addedle7:droppedle" + hash + "e",
		"no infohash":       "d5:addedl6:\x7f\x00\x00\x01\x00\x01ee",
		"short infohash":    "d5:addedl6:\x7f\x00\x00\x01\x00\x01e8:infohash3:abce",
		"entry of 5 bytes":  "d5:addedl5:\x7f\x00\x00\x01\x00e" + hash + "e",
		"entry not string":  "d5:addedli1ee" + hash + "e",
		"added not a list":  "d5:added6:\x7f\x00\x00\x01\x00\x01" + hash + "e",
		"unterminated":      "d5:addedl6:\x7f\x00\x00\x01\x00\x01e",
		"not a dict":        "l",
		"truncated entry":   "d5:addedl6:\x7f\x00",
		"HST not a string":  "d5:addedl6:\x7f\x00\x00\x01\x00\x01e9:added_HSTi0e" + hash + "e",
		"bad value skipped": "d5:addedl6:\x7f\x00\x00\x01\x00\x01e1:xi" + hash + "e",
	} {
		var m PeerExchange
		if err := DecodePeerExchange([]byte(in), &m); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	var m PeerExchange
	if _, err := AppendPeerExchange(nil, &m); !errors.Is(err, ErrEmptyExchange) {
		t.Errorf("encoding an empty exchange: %v", err)
	}
	m.Added = []Peer{{}}
	if _, err := AppendPeerExchange(nil, &m); !errors.Is(err, ErrUnsupportedAddr) {
		t.Errorf("encoding the zero address: %v", err)
	}
}

// _HST and _UDP strings of the wrong length are ignored, the peers kept.
func TestExchangeBadHSTKept(t *testing.T) {
	in := "d5:addedl6:\x7f\x00\x00\x05\x1a\xe1e9:added_HST2:\x01\x019:added_UDP1:x8:infohash20:" + string(ih[:]) + "e"
	var m PeerExchange
	if err := DecodePeerExchange([]byte(in), &m); err != nil {
		t.Fatal(err)
	}
	if !m.BadHST || !m.BadUDP || len(m.Added) != 1 || m.Added[0].Crypto || m.Added[0].UDPPort != 0 {
		t.Fatalf("%+v", m)
	}
}
