package tracker

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seed0021ed4d/pex/bencode"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var ann = Announce{InfoHash: [20]byte{0xde, 0xad}, PeerID: [20]byte{'-', 'P', 'X'}, Port: 6881, Event: "started"}

func TestHTTPAnnounce(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("info_hash") != string(ann.InfoHash[:]) || q.Get("port") != "6881" || q.Get("compact") != "1" || q.Get("event") != "started" {
			b, _ := bencode.Encode(map[string]any{"failure reason": "bad request " + r.URL.RawQuery})
			w.Write(b)
			return
		}
		b, _ := bencode.Encode(map[string]any{"interval": int64(900), "peers": "\x7f\x00\x00\x02\x1a\xe1",
			"peers6": "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1a\xe2"})
		w.Write(b)
	}))
	defer srv.Close()
	var c Client
	r, err := c.Announce(context.Background(), srv.URL+"/announce?key=1", ann)
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.2:6881"), netip.MustParseAddrPort("[::1]:6882")}
	if r.Interval != 900*time.Second || len(r.Peers) != 2 || r.Peers[0] != want[0] || r.Peers[1] != want[1] {
		t.Fatalf("%+v", r)
	}
}

func TestHTTPResponses(t *testing.T) {
	if _, err := ParseHTTPResponse([]byte("d14:failure reason4:nopee")); !errors.Is(err, ErrTracker) {
		t.Fatal(err)
	}
	r, err := ParseHTTPResponse([]byte("d5:peersld2:ip9:127.0.0.34:porti51413eed2:ip3:bad4:porti1eeee"))
	if err != nil || len(r.Peers) != 1 || r.Peers[0] != netip.MustParseAddrPort("127.0.0.3:51413") {
		t.Fatal(r, err)
	}
	for _, bad := range []string{"", "le", "d5:peers"} {
		if _, err := ParseHTTPResponse([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// fakeUDPTracker answers BEP 15 on loopback.
func fakeUDPTracker(t *testing.T, fail bool) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			p := buf[:n]
			tid := p[12:16]
			switch {
			case n == 16 && binary.BigEndian.Uint64(p) == udpProtocolID:
				out := binary.BigEndian.AppendUint32(nil, 0)
				out = append(out, tid...)
				out = binary.BigEndian.AppendUint64(out, 0x1234)
				pc.WriteTo(out, from)
			case n == 98 && binary.BigEndian.Uint64(p) == 0x1234:
				if fail {
					out := binary.BigEndian.AppendUint32(nil, 3)
					out = append(out, tid...)
					pc.WriteTo(append(out, "go away"...), from)
					continue
				}
				port := binary.BigEndian.Uint16(p[96:98])
				out := binary.BigEndian.AppendUint32(nil, 1)
				out = append(out, tid...)
				out = binary.BigEndian.AppendUint32(out, 600)
				out = binary.BigEndian.AppendUint32(out, 1)
				out = binary.BigEndian.AppendUint32(out, 1)
				out = append(out, 127, 0, 0, 5)
				out = binary.BigEndian.AppendUint16(out, port+1)
				pc.WriteTo(out, from)
			}
		}
	}()
	return "udp://" + pc.LocalAddr().String()
}

func TestUDPAnnounce(t *testing.T) {
	var c Client
	r, err := c.Announce(context.Background(), fakeUDPTracker(t, false), ann)
	if err != nil {
		t.Fatal(err)
	}
	if r.Interval != 600*time.Second || len(r.Peers) != 1 || r.Peers[0] != netip.MustParseAddrPort("127.0.0.5:6882") {
		t.Fatalf("%+v", r)
	}
	if _, err := c.Announce(context.Background(), fakeUDPTracker(t, true), ann); !errors.Is(err, ErrTracker) {
		t.Fatalf("error action: %v", err)
	}
}

func TestUDPNoAnswer(t *testing.T) {
	pc, _ := net.ListenPacket("udp", "127.0.0.1:0") // never answers
	defer pc.Close()
	c := Client{UDPTimeout: 50 * time.Millisecond}
	if _, err := c.Announce(context.Background(), "udp://"+pc.LocalAddr().String(), ann); err == nil {
		t.Fatal("announce to a silent tracker succeeded")
	}
}

func FuzzParseHTTPResponse(f *testing.F) {
	f.Add([]byte("d8:intervali900e5:peers6:\x7f\x00\x00\x02\x1a\xe1e"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseHTTPResponse(b)
		if err == nil {
			for _, p := range r.Peers {
				if !p.IsValid() {
					t.Fatal("invalid peer")
				}
			}
		}
	})
}
