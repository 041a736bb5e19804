package compact

import (
	"bytes"
	"net/netip"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, c := range []struct {
		in, want string
		size     int
	}{
		{"192.0.2.7:6881", "192.0.2.7:6881", 6},
		{"[2001:db8::1]:51413", "[2001:db8::1]:51413", 18},
		{"[::ffff:192.0.2.7]:6881", "192.0.2.7:6881", 6}, // one rule: mapped is IPv4
	} {
		a := netip.MustParseAddrPort(c.in)
		b := Append(nil, a)
		if len(b) != c.size || Size(a) != c.size {
			t.Fatalf("%s: %d bytes, Size %d, want %d", c.in, len(b), Size(a), c.size)
		}
		got, ok := Decode(b)
		if !ok || got.String() != c.want {
			t.Fatalf("%s: decoded %s", c.in, got)
		}
	}
}

// An IPv4-mapped address sent in the 18-byte form decodes as the same peer
// as its 6-byte form.
func TestMappedDecodesAsIPv4(t *testing.T) {
	ip := netip.MustParseAddr("::ffff:127.0.0.1").As16()
	b := append(ip[:], 0x1a, 0xe1)
	if got, want := Decode6(b), netip.MustParseAddrPort("127.0.0.1:6881"); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestAppendList(t *testing.T) {
	var b []byte
	for _, s := range []string{"192.0.2.1:1", "192.0.2.2:2"} {
		b = Append(b, netip.MustParseAddrPort(s))
	}
	b = append(b, 9, 9, 9) // a trailing partial entry
	got := AppendList(nil, b, Size4)
	if len(got) != 2 || got[1].String() != "192.0.2.2:2" {
		t.Fatalf("got %v", got)
	}
	if got := AppendList(nil, bytes.Repeat([]byte{0}, 17), Size6); len(got) != 0 {
		t.Fatalf("partial IPv6 entry decoded: %v", got)
	}
	if _, ok := Decode([]byte{1, 2, 3}); ok {
		t.Fatal("a 3-byte entry decoded")
	}
}

func TestAppendDoesNotAllocate(t *testing.T) {
	a := netip.MustParseAddrPort("[2001:db8::1]:1")
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { _ = Append(buf[:0], a) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
