package portmap

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakePCP is a PCP server on loopback: answer builds the reply to each
// request (nil: stay silent); requests are kept.
type fakePCP struct {
	pc   net.PacketConn
	reqs chan []byte
}

func newFakePCP(t *testing.T, answer func(req []byte) [][]byte) *fakePCP {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakePCP{pc: pc, reqs: make(chan []byte, 64)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2000)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			req := append([]byte(nil), buf[:n]...)
			select {
			case f.reqs <- req:
			default:
			}
			for _, r := range answer(req) {
				pc.WriteTo(r, from)
			}
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return f
}

func (f *fakePCP) client(proto string) *pcp {
	p := newPCP(netip.MustParseAddr("127.0.0.1"), proto)
	p.server = f.pc.LocalAddr().(*net.UDPAddr).AddrPort()
	return p
}

// mapAnswer is a success answer to req granting port, lease and ext.
func mapAnswer(req []byte, result byte, port int, lease uint32, ext netip.Addr) []byte {
	b := make([]byte, pcpHeaderLen+pcpMapLen)
	b[0], b[1], b[3] = pcpVersion, pcpResponseBit|pcpOpMap, result
	binary.BigEndian.PutUint32(b[4:], lease)
	copy(b[pcpHeaderLen:], req[pcpHeaderLen:pcpHeaderLen+20]) // nonce, protocol, internal port
	binary.BigEndian.PutUint16(b[pcpHeaderLen+18:], uint16(port))
	e := ext.As16()
	copy(b[pcpHeaderLen+20:], e[:])
	return b
}

// A MAP request says what RFC 6887 asks (our address IPv4-mapped, the
// lease, nonce, protocol, ports, any IPv4 address); the answer's port,
// lease and public address are taken, strays and strangers' answers are
// skipped, and a delete is a lease of 0 with the same nonce.
func TestPCPMap(t *testing.T) {
	ext := netip.MustParseAddr("198.51.100.7")
	f := newFakePCP(t, func(req []byte) [][]byte {
		wrongNonce := mapAnswer(req, 0, 1, 1, ext)
		wrongNonce[pcpHeaderLen] ^= 0xff
		return [][]byte{{1, 2, 3}, wrongNonce, mapAnswer(req, 0, 40000, 600, ext)}
	})
	p := f.client("tcp")
	port, lease, err := p.add(context.Background(), 5000, 5000, time.Hour)
	if err != nil || port != 40000 || lease != 600*time.Second {
		t.Fatalf("add = %d, %v, %v; want 40000, 10m0s", port, lease, err)
	}
	if ip, err := p.externalIP(context.Background()); err != nil || ip != ext {
		t.Fatalf("externalIP = %v, %v; want %v", ip, err, ext)
	}
	req := <-f.reqs
	if len(req) != pcpHeaderLen+pcpMapLen || req[0] != 2 || req[1] != 1 || binary.BigEndian.Uint32(req[4:]) != 3600 {
		t.Fatalf("request header % x", req[:8])
	}
	if c := netip.AddrFrom16([16]byte(req[8:24])); !c.Is4In6() || c.Unmap() != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("client address %v, want ::ffff:127.0.0.1", c)
	}
	op := req[pcpHeaderLen:]
	if [12]byte(op[:12]) != p.nonce || op[12] != 6 || binary.BigEndian.Uint16(op[16:]) != 5000 || binary.BigEndian.Uint16(op[18:]) != 5000 {
		t.Fatalf("MAP opcode % x", op[:20])
	}
	if s := netip.AddrFrom16([16]byte(op[20:36])); s != netip.MustParseAddr("::ffff:0.0.0.0") {
		t.Fatalf("suggested external address %v, want ::ffff:0.0.0.0", s)
	}
	if err := p.remove(context.Background(), 5000, 40000); err != nil {
		t.Fatal(err)
	}
	del := <-f.reqs
	if binary.BigEndian.Uint32(del[4:]) != 0 || [12]byte(del[pcpHeaderLen:pcpHeaderLen+12]) != p.nonce {
		t.Fatalf("delete % x: want lease 0 and the mapping's nonce", del)
	}
}

// A router's refusal is an error naming its result code; a NAT-PMP-only
// router's answer is UNSUPP_VERSION; silence ends with the context or
// the timeout.
func TestPCPRefusals(t *testing.T) {
	for _, c := range []struct {
		name   string
		answer func(req []byte) [][]byte
		want   string
	}{
		{"no resources", func(req []byte) [][]byte { return [][]byte{mapAnswer(req, 8, 0, 0, netip.Addr{})} }, "pcp: NO_RESOURCES"},
		{"natpmp only", func([]byte) [][]byte { return [][]byte{{0, 0x81, 0, 1, 0, 0, 0, 0}} }, "pcp: UNSUPP_VERSION"},
		{"no port", func(req []byte) [][]byte {
			return [][]byte{mapAnswer(req, 0, 0, 60, netip.MustParseAddr("198.51.100.7"))}
		}, "pcp: the router mapped no port"},
		{"silent", func([]byte) [][]byte { return nil }, context.DeadlineExceeded.Error()},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newFakePCP(t, c.answer).client("udp")
			ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
			defer cancel()
			_, _, err := p.add(ctx, 5000, 5000, time.Hour)
			if err == nil || err.Error() != c.want {
				t.Fatalf("add: %v; want %q", err, c.want)
			}
			var pe pcpError
			if c.name != "silent" && c.name != "no port" && !errors.As(err, &pe) {
				t.Fatalf("%T is not a pcpError", err)
			}
		})
	}
}

// Any datagram is parsed without a panic, and only one that names our
// request is taken.
func FuzzParsePCPMap(f *testing.F) {
	var nonce [12]byte
	req := appendPCPMap(nil, netip.MustParseAddr("10.0.0.2"), nonce, 6, 5000, 5000, time.Hour)
	f.Add(mapAnswer(req, 0, 5000, 3600, netip.MustParseAddr("198.51.100.7")))
	f.Add([]byte{0, 0x81, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parsePCPMap(b, nonce, 6, 5000)
		if err == nil && (len(b) < pcpHeaderLen+pcpMapLen || m.lifetime < 0) {
			t.Fatalf("took %d bytes as %+v", len(b), m)
		}
	})
}
