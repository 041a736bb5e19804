package pex

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"github.com/seed0021ed4d/pex/bencode"
)

func sampleMsg() *Msg {
	m := &Msg{}
	for i := 0; i < 50; i++ {
		m.Added = append(m.Added, Peer{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i), 1}), uint16(6881+i)), Flags: Flags(i % 32)})
	}
	for i := 0; i < 50; i++ {
		a := netip.MustParseAddr("2001:db8::1").As16()
		a[14] = byte(i)
		m.Added = append(m.Added, Peer{Addr: netip.AddrPortFrom(netip.AddrFrom16(a), uint16(7000+i)), Flags: FlagSeed | FlagUTP})
	}
	m.Dropped = append(m.Dropped, netip.MustParseAddrPort("192.0.2.9:51413"), netip.MustParseAddrPort("[2001:db8::9]:51413"))
	return m
}

func TestRoundTrip(t *testing.T) {
	m := sampleMsg()
	b, err := Append(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	// It is valid bencode with the six keys.
	v, err := bencode.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	d := v.(map[string]any)
	if len(d["added"].(string)) != 300 || len(d["added.f"].(string)) != 50 || len(d["added6"].(string)) != 900 || len(d["dropped6"].(string)) != 18 {
		t.Fatalf("lengths wrong: %v", len(d))
	}
	var got Msg
	if err := Decode(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Added) != 100 || len(got.Dropped) != 2 || got.BadFlags {
		t.Fatalf("got %d added %d dropped", len(got.Added), len(got.Dropped))
	}
	for i := range m.Added {
		if got.Added[i] != m.Added[i] {
			t.Fatalf("peer %d: %v != %v", i, got.Added[i], m.Added[i])
		}
	}
}

func TestDecodeVariants(t *testing.T) {
	enc := func(d map[string]any) []byte { b, _ := bencode.Encode(d); return b }
	peer := "\x7f\x00\x00\x02\x1a\xe1" // 127.0.0.2:6881
	cases := []struct {
		name    string
		in      []byte
		added   int
		dropped int
		bad     bool
		err     bool
	}{
		{"rtorrent: no added.f", enc(map[string]any{"added": peer + peer, "dropped": ""}), 2, 0, false, false},
		{"flags of the wrong length", enc(map[string]any{"added": peer + peer, "added.f": "\x01"}), 0, 0, true, false},
		{"unknown keys and trailing bytes", append(enc(map[string]any{"added": peer, "zz": []any{int64(1)}, "a": map[string]any{}}), "junk"...), 1, 0, false, false},
		{"empty dict", []byte("de"), 0, 0, false, false},
		{"truncated peer", enc(map[string]any{"added": peer[:5]}), 0, 0, false, true},
		{"not a dict", []byte("li1ee"), 0, 0, false, true},
		{"unterminated", []byte("d5:added6:" + peer), 0, 0, false, true},
		{"added not a string", enc(map[string]any{"added": int64(5)}), 0, 0, false, false},
		{"empty payload", nil, 0, 0, false, true},
	}
	var m Msg
	for _, tc := range cases {
		err := Decode(tc.in, &m)
		var de *DecodeError
		if tc.err != (err != nil) || (err != nil && !errors.As(err, &de)) {
			t.Errorf("%s: err %v", tc.name, err)
			continue
		}
		if err == nil && (len(m.Added) != tc.added || len(m.Dropped) != tc.dropped || m.BadFlags != tc.bad) {
			t.Errorf("%s: added %d dropped %d bad %v", tc.name, len(m.Added), len(m.Dropped), m.BadFlags)
		}
	}
}

func TestZeroAllocations(t *testing.T) {
	m := sampleMsg()
	buf := make([]byte, 0, 4096)
	b, _ := Append(buf, m)
	var got Msg
	Decode(b, &got) // warm the slices
	if n := testing.AllocsPerRun(100, func() { Decode(b, &got) }); n != 0 {
		t.Errorf("Decode: %v allocations", n)
	}
	if n := testing.AllocsPerRun(100, func() { Append(buf[:0], m) }); n != 0 {
		t.Errorf("Append: %v allocations", n)
	}
}

func TestAppendRejectsZeroAddr(t *testing.T) {
	if _, err := Append(nil, &Msg{Added: []Peer{{}}}); !errors.Is(err, ErrUnsupportedAddr) {
		t.Fatal(err)
	}
}

func FuzzDecode(f *testing.F) {
	b, _ := Append(nil, sampleMsg())
	f.Add(b)
	f.Add([]byte("d5:added6:\x7f\x00\x00\x01\x1a\xe17:added.f1:\x01e"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var m Msg
		if Decode(in, &m) != nil {
			return
		}
		for _, p := range m.Added {
			if !p.Addr.IsValid() {
				t.Fatal("invalid address decoded")
			}
		}
		out, err := Append(nil, &m)
		if err != nil {
			t.Fatal(err)
		}
		var m2 Msg
		if err := Decode(out, &m2); err != nil || len(m2.Added) != len(m.Added) || len(m2.Dropped) != len(m.Dropped) {
			t.Fatalf("re-encoding: %v", err)
		}
		if !bytes.HasPrefix(out, []byte("d5:added")) {
			t.Fatal("keys out of order")
		}
	})
}

// One rule for IPv4-mapped IPv6 (package bt/compact): a peer sent in
// added6 as ::ffff:a.b.c.d is the IPv4 peer a.b.c.d, as AZMP and trackers
// decode it, so that one peer cannot enter a peer set twice.
func TestMappedIPv6DecodesAsIPv4(t *testing.T) {
	ip := netip.MustParseAddr("::ffff:192.0.2.7").As16()
	entry := append(ip[:], 0x1a, 0xe1)
	payload := []byte("d6:added618:" + string(entry) + "e")
	var m Msg
	if err := Decode(payload, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Added) != 1 || m.Added[0].Addr != netip.MustParseAddrPort("192.0.2.7:6881") {
		t.Fatalf("added %v", m.Added)
	}
}
