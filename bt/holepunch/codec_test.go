package holepunch

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

var (
	addr4 = netip.MustParseAddrPort("192.0.2.7:6881")
	addr6 = netip.MustParseAddrPort("[2001:db8::1]:51413")
)

// sampleMsgs are one message of every type with each address family.
func sampleMsgs() []Msg {
	var ms []Msg
	for _, a := range []netip.AddrPort{addr4, addr6} {
		ms = append(ms, Msg{Type: Rendezvous, Addr: a}, Msg{Type: Connect, Addr: a}, Msg{Type: Error, Addr: a, Err: NotConnected})
	}
	return ms
}

func TestRoundTrip(t *testing.T) {
	for _, m := range sampleMsgs() {
		b, err := Append(nil, m)
		if err != nil {
			t.Fatalf("%v: %v", m, err)
		}
		want := 12
		if m.Addr.Addr().Is6() {
			want = MaxSize
		}
		if len(b) != want {
			t.Errorf("%v: %d bytes, want %d", m, len(b), want)
		}
		got, err := Parse(b)
		if err != nil || got != m {
			t.Errorf("%v: parsed %v, %v", m, got, err)
		}
	}
}

// golden turns hex written field by field, with spaces between the
// fields, into bytes.
func golden(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// The golden payloads are written by hand from BEP 55's layout, not by
// Append: msg_type, addr_type, addr, port, err_code.
func TestGolden(t *testing.T) {
	cases := []struct {
		m Msg
		b []byte
	}{
		{Msg{Type: Rendezvous, Addr: addr4}, golden("00 00 c0000207 1ae1 00000000")},
		{Msg{Type: Connect, Addr: addr4}, golden("01 00 c0000207 1ae1 00000000")},
		{Msg{Type: Connect, Addr: addr6}, golden("01 01 20010db8000000000000000000000001 c8d5 00000000")},
		{Msg{Type: Error, Addr: addr4, Err: NoSuchPeer}, golden("02 00 c0000207 1ae1 00000001")},
		{Msg{Type: Error, Addr: addr6, Err: NoSelf}, golden("02 01 20010db8000000000000000000000001 c8d5 00000004")},
	}
	for _, tc := range cases {
		b, err := Append([]byte{0xff}, tc.m) // after bytes already there
		if err != nil || !bytes.Equal(b[1:], tc.b) || b[0] != 0xff {
			t.Errorf("Append(%v) = % x, %v; want % x", tc.m, b, err, tc.b)
		}
		m, err := Parse(tc.b)
		if err != nil || m != tc.m {
			t.Errorf("Parse(% x) = %v, %v; want %v", tc.b, m, err, tc.m)
		}
	}
}

func TestParseRejects(t *testing.T) {
	v4 := []byte{0x01, 0x00, 10, 0, 0, 1, 0x1a, 0xe1, 0, 0, 0, 0}
	v6 := append([]byte{0x01, 0x01}, make([]byte, 16+2+4)...)
	with := func(b []byte, i int, v byte) []byte { b = bytes.Clone(b); b[i] = v; return b }
	cases := []struct {
		name string
		in   []byte
		err  error
	}{
		{"empty", nil, ErrShort},
		{"msg_type only", []byte{0x00}, ErrShort},
		{"header only", []byte{0x00, 0x00}, ErrShort},
		{"IPv4 one byte short", v4[:11], ErrShort},
		{"IPv4 error without its code", []byte{0x02, 0x00, 1, 2, 3, 4, 0x1a, 0xe1}, ErrShort},
		{"IPv4 five bytes short", v4[:7], ErrShort},
		{"IPv6 one byte short", v6[:23], ErrShort},
		{"IPv6 addr_type, IPv4 length", with(v4, 1, 0x01), ErrShort},
		{"IPv4 one byte long", append(bytes.Clone(v4), 0), ErrLength},
		{"IPv6 one byte long", append(bytes.Clone(v6), 0), ErrLength},
		{"IPv4 addr_type, IPv6 length", with(v6, 1, 0x00), ErrLength},
		{"msg_type 3", with(v4, 0, 0x03), ErrMsgType},
		{"msg_type 0xff", with(v4, 0, 0xff), ErrMsgType},
		{"addr_type 2", with(v4, 1, 0x02), ErrAddrType},
		{"addr_type 0xff", with(v6, 1, 0xff), ErrAddrType},
		{"error with err_code 0", with(v4, 0, 0x02), ErrZeroCode},
	}
	for _, tc := range cases {
		m, err := Parse(tc.in)
		if !errors.Is(err, tc.err) {
			t.Errorf("%s: got %v, %v; want %v", tc.name, m, err, tc.err)
		}
		if err != nil && m != (Msg{}) {
			t.Errorf("%s: a refused payload returned %v", tc.name, m)
		}
	}
}

// A non-error message with a non-zero err_code parses, and the code is
// dropped; an error message keeps any non-zero code, known or not.
func TestParseErrCode(t *testing.T) {
	b := []byte{0x01, 0x00, 10, 0, 0, 1, 0x1a, 0xe1, 0, 0, 0, 0x02}
	if m, err := Parse(b); err != nil || m.Err != 0 || m.Type != Connect {
		t.Errorf("connect with err_code 2: %v, %v", m, err)
	}
	b[0], b[8] = 0x02, 0x80
	if m, err := Parse(b); err != nil || m.Err != 0x80000002 {
		t.Errorf("error with an unknown code: %v, %v", m, err)
	}
}

// One rule for IPv4-mapped IPv6 (package bt/compact): written as IPv4,
// and read back as IPv4 when a peer sends it in the IPv6 form.
func TestMappedIPv6(t *testing.T) {
	mapped := netip.AddrPortFrom(netip.MustParseAddr("::ffff:192.0.2.7"), 6881)
	b, err := Append(nil, Msg{Type: Connect, Addr: mapped})
	if err != nil || len(b) != 12 || b[1] != 0x00 {
		t.Fatalf("Append: % x, %v", b, err)
	}
	ip := mapped.Addr().As16()
	in := append(append([]byte{0x00, 0x01}, ip[:]...), 0x1a, 0xe1, 0, 0, 0, 0)
	if m, err := Parse(in); err != nil || m.Addr != addr4 {
		t.Fatalf("Parse: %v, %v", m, err)
	}
}

func TestAppendRejects(t *testing.T) {
	cases := []struct {
		name string
		m    Msg
		err  error
	}{
		{"zero address", Msg{Type: Connect}, ErrUnsupportedAddr},
		{"unknown type", Msg{Type: 3, Addr: addr4}, ErrMsgType},
		{"error without a code", Msg{Type: Error, Addr: addr6}, ErrZeroCode},
	}
	for _, tc := range cases {
		dst := []byte("kept")
		b, err := Append(dst, tc.m)
		if !errors.Is(err, tc.err) || string(b) != "kept" {
			t.Errorf("%s: % x, %v; want %v and dst unchanged", tc.name, b, err, tc.err)
		}
	}
}

// Err is written for error messages only: a rendezvous or connect carries
// zero whatever Err holds, as BEP 55 asks.
func TestAppendZeroesErrOfNonErrors(t *testing.T) {
	b, err := Append(nil, Msg{Type: Rendezvous, Addr: addr4, Err: NoSelf})
	if err != nil || !bytes.Equal(b[8:], []byte{0, 0, 0, 0}) {
		t.Fatalf("% x, %v", b, err)
	}
}

// A zone cannot be written: the address goes without it.
func TestAppendDropsZone(t *testing.T) {
	a := netip.AddrPortFrom(netip.MustParseAddr("fe80::1%eth0"), 6881)
	b, err := Append(nil, Msg{Type: Connect, Addr: a})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := Parse(b); err != nil || m.Addr != netip.MustParseAddrPort("[fe80::1]:6881") {
		t.Fatalf("%v, %v", m, err)
	}
}

func TestStrings(t *testing.T) {
	for v, want := range map[MsgType]string{Rendezvous: "rendezvous", Connect: "connect", Error: "error", 7: "msg-type-7"} {
		if got := v.String(); got != want {
			t.Errorf("MsgType(%d) = %q, want %q", uint8(v), got, want)
		}
	}
	for v, want := range map[ErrCode]string{NoSuchPeer: "no-such-peer", NotConnected: "not-connected", NoSupport: "no-support", NoSelf: "no-self", 0: "error-0", 0xffffffff: "error-4294967295"} {
		if got := v.String(); got != want {
			t.Errorf("ErrCode(%d) = %q, want %q", uint32(v), got, want)
		}
	}
}

func TestZeroAllocations(t *testing.T) {
	buf := make([]byte, 0, MaxSize)
	for _, m := range sampleMsgs() {
		b, _ := Append(nil, m)
		if n := testing.AllocsPerRun(100, func() { Append(buf[:0], m) }); n != 0 {
			t.Errorf("Append(%v): %v allocations", m, n)
		}
		if n := testing.AllocsPerRun(100, func() { Parse(b) }); n != 0 {
			t.Errorf("Parse(%v): %v allocations", m, n)
		}
	}
	if n := testing.AllocsPerRun(100, func() { Parse([]byte{9, 9}) }); n != 0 {
		t.Errorf("Parse refusing: %v allocations", n)
	}
}

// libtorrent writes err_code in error messages only: its rendezvous and
// connect messages end at the port (bt_peer_connection.cpp,
// write_holepunch_msg). Parse takes them, IPv4 and IPv6.
func TestParseLibtorrentShortForm(t *testing.T) {
	addr4 := netip.MustParseAddrPort("192.0.2.7:6881")
	addr6 := netip.MustParseAddrPort("[2001:db8::1]:51413")
	cases := []struct {
		b []byte
		m Msg
	}{
		{golden("00 00 c0000207 1ae1"), Msg{Type: Rendezvous, Addr: addr4}},
		{golden("01 00 c0000207 1ae1"), Msg{Type: Connect, Addr: addr4}},
		{golden("01 01 20010db8000000000000000000000001 c8d5"), Msg{Type: Connect, Addr: addr6}},
	}
	for _, tc := range cases {
		if m, err := Parse(tc.b); err != nil || m != tc.m {
			t.Errorf("Parse(% x) = %v, %v; want %v", tc.b, m, err, tc.m)
		}
	}
}
