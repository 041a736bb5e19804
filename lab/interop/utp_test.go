package interop

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/bt/mse"
	"github.com/seed0021ed4d/pex/bt/utp"
	"github.com/seed0021ed4d/pex/bt/wire"
)

// uTP against libtorrent 2.0 with its TCP turned off both ways, so that
// a link can only be uTP: bt/utp dials libtorrent, and libtorrent dials
// bt/utp. docs/utp.md records what these show.

func requireUTP(t *testing.T) {
	t.Helper()
	if !utp.Supported() {
		t.Skip("this build has no uTP (CGO_ENABLED=0)")
	}
}

// utpTestPeerID is a peer id of pex's form, random per run.
func utpTestPeerID() [20]byte {
	var id [20]byte
	copy(id[:], "-PX0000-")
	rand.Read(id[8:])
	return id
}

// utpHolepunchID is the extended id this test receives ut_holepunch under.
const utpHolepunchID = 9

// readExtended reads messages from r until an extension message with
// extended id ext arrives, and returns its payload (after the id).
func readExtended(t *testing.T, c net.Conn, r *wire.Reader, ext byte) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	for {
		m, err := r.ReadMessage()
		if err != nil {
			t.Fatalf("reading libtorrent's messages (waiting for extended id %d): %v", ext, err)
		}
		if !m.KeepAlive && m.ID == wire.MsgExtended && len(m.Payload) > 0 && m.Payload[0] == ext {
			return append([]byte(nil), m.Payload[1:]...)
		}
	}
}

// waitUTPPeer waits until libtorrent lists a peer at ip connected over
// uTP, and returns it.
func waitUTPPeer(t *testing.T, n *ltNode, ip string) ltPeer {
	t.Helper()
	var got ltPeer
	ok := n.Until(30*time.Second, func() bool {
		ps, _ := n.peers()
		for _, p := range ps {
			if p.IP == ip && p.UTP {
				got = p
				return true
			}
		}
		return false
	})
	if !ok {
		ps, dropped := n.snapshot()
		t.Fatalf("libtorrent never listed %s as a uTP peer: peers %+v, disconnects %q", ip, ps, dropped)
	}
	return got
}

// bt/utp dials libtorrent over uTP; the handshakes name the same swarm,
// libtorrent's extended handshake lists ut_holepunch, and a rendezvous for
// a peer libtorrent is not linked to is answered with BEP 55's
// NotConnected error over the same link (what --log-holepunch prints too).
func TestUTPDialsLibtorrent(t *testing.T) {
	requireLibtorrent(t)
	requireUTP(t)
	t.Parallel()
	dir := t.TempDir()
	torrent, ih := makeTorrent(t, dir)
	lt := startLibtorrentArgs(t, torrent, filepath.Join(dir, "seed"), "127.0.0.2", true, 60*time.Second, 0,
		[]string{"--utp", "--no-tcp", "--log-holepunch"})
	// Until its torrent is loaded libtorrent closes connections for it.
	if !lt.Until(30*time.Second, func() bool { _, st := lt.peers(); return st == "seeding" }) {
		_, st := lt.peers()
		t.Fatalf("libtorrent's torrent never came to seeding (state %q)", st)
	}

	s, err := utp.Listen("udp4", "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	c, err := s.DialContext(ctx, lt.addr())
	if err != nil {
		t.Fatalf("uTP dial to libtorrent: %v", err)
	}
	defer c.Close()
	t.Logf("uTP connection to libtorrent set up in %v", time.Since(start).Round(time.Microsecond))

	var hs wire.Handshake
	hs.Reserved[wire.ReservedByteLTEP] |= wire.ReservedBitLTEP
	hs.InfoHash, hs.PeerID = ih, utpTestPeerID()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write(hs.Append(nil)); err != nil {
		t.Fatal(err)
	}
	theirs, err := wire.ReadHandshake(c)
	if err != nil {
		t.Fatalf("libtorrent's handshake: %v", err)
	}
	c.SetDeadline(time.Time{})
	if theirs.InfoHash != ih {
		t.Fatalf("libtorrent answered for swarm %x, want %x", theirs.InfoHash, ih)
	}
	if !theirs.LTEP() {
		t.Fatal("libtorrent's handshake lacks the extension protocol bit")
	}

	ext := wire.ExtHandshake{M: map[string]int{"ut_holepunch": utpHolepunchID}, Version: "pex-interop"}
	if _, err := c.Write(wire.AppendExtended(nil, 0, ext.Bytes())); err != nil {
		t.Fatal(err)
	}
	r := wire.NewReader(c, 0)
	defer r.Release()
	theirExt, err := wire.ParseExtHandshake(readExtended(t, c, r, 0))
	if err != nil {
		t.Fatalf("libtorrent's extended handshake: %v", err)
	}
	hpID := theirExt.M["ut_holepunch"]
	if hpID == 0 {
		t.Fatalf("libtorrent's extended handshake lists no ut_holepunch: m = %v", theirExt.M)
	}
	t.Logf("libtorrent's extended handshake: m = %v, v = %q", theirExt.M, theirExt.Version)

	// BEP 55 rendezvous: msg_type 0, addr_type 0 (IPv4), address, port.
	target := netip.MustParseAddrPort("127.0.0.9:6881")
	msg := []byte{0, 0}
	msg = append(msg, target.Addr().AsSlice()...)
	msg = binary.BigEndian.AppendUint16(msg, target.Port())
	if _, err := c.Write(wire.AppendExtended(nil, byte(hpID), msg)); err != nil {
		t.Fatal(err)
	}
	ans := readExtended(t, c, r, utpHolepunchID)
	// failed (2), IPv4 (0), the target, error code NotConnected (2).
	want := []byte{2, 0}
	want = append(want, target.Addr().AsSlice()...)
	want = binary.BigEndian.AppendUint16(want, target.Port())
	want = binary.BigEndian.AppendUint32(want, 2)
	if string(ans) != string(want) {
		t.Fatalf("libtorrent's answer to a rendezvous for a peer it does not know: % x, want % x", ans, want)
	}

	p := waitUTPPeer(t, lt, "127.0.0.1")
	if p.Port != int(s.AddrPort().Port()) {
		t.Errorf("libtorrent sees the uTP link from port %d, want the socket's port %d", p.Port, s.AddrPort().Port())
	}
	if lt.Wait("holepunch", 10*time.Second, func(ev map[string]any) bool {
		return strings.Contains(fmt.Sprint(ev["msg"]), "rendezvous")
	}) == nil {
		t.Error("libtorrent logged no HOLEPUNCH line for the rendezvous (--log-holepunch)")
	}
	for _, ev := range lt.Events() {
		if ev["event"] == "holepunch" {
			t.Logf("libtorrent: %s", ev["msg"])
		}
	}
}

// libtorrent, told of a bt/utp socket, dials it over uTP from its listen
// port (what a BEP 55 relay must see); the socket accepts it, answers
// libtorrent's MSE or plain handshake, and the BitTorrent handshake names
// the swarm.
func TestLibtorrentDialsUTP(t *testing.T) {
	requireLibtorrent(t)
	requireUTP(t)
	t.Parallel()
	dir := t.TempDir()
	torrent, ih := makeTorrent(t, dir)
	os.MkdirAll(filepath.Join(dir, "leech"), 0o755)

	s, err := utp.Listen("udp4", "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		defer close(accepted)
		for {
			c, err := s.Accept()
			if err != nil {
				return
			}
			select {
			case accepted <- c:
			default:
				c.Close() // only the first is looked at
			}
		}
	}()

	lt := startLibtorrentArgs(t, torrent, filepath.Join(dir, "leech"), "127.0.0.3", false, 60*time.Second, 0,
		[]string{"--utp", "--no-tcp"}, s.AddrPort().String())

	var c net.Conn
	select {
	case c = <-accepted:
	case <-time.After(30 * time.Second):
		ps, dropped := lt.snapshot()
		t.Fatalf("libtorrent never reached the uTP socket: peers %+v, disconnects %q", ps, dropped)
	}
	defer c.Close()
	if from := netip.MustParseAddrPort(c.RemoteAddr().String()); from != lt.addr() {
		t.Errorf("libtorrent's uTP link comes from %v, want its listen address %v", from, lt.addr())
	}

	pc, encrypted, err := mse.Accept(c, ih, time.Now().Add(20*time.Second))
	if err != nil {
		t.Fatalf("libtorrent's opening (MSE or plain): %v", err)
	}
	t.Logf("libtorrent opened with MSE: %v", encrypted)
	pc.SetDeadline(time.Now().Add(20 * time.Second))
	theirs, err := wire.ReadHandshake(pc)
	if err != nil {
		t.Fatalf("libtorrent's handshake: %v", err)
	}
	if theirs.InfoHash != ih {
		t.Fatalf("libtorrent dialed for swarm %x, want %x", theirs.InfoHash, ih)
	}
	var hs wire.Handshake
	hs.Reserved[wire.ReservedByteLTEP] |= wire.ReservedBitLTEP
	hs.InfoHash, hs.PeerID = ih, utpTestPeerID()
	if _, err := pc.Write(hs.Append(nil)); err != nil {
		t.Fatal(err)
	}
	pc.SetDeadline(time.Time{})
	waitUTPPeer(t, lt, "127.0.0.1")
}
