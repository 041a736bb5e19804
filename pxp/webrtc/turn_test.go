package webrtc

import (
	"net"
	"testing"
	"time"

	"github.com/pion/turn/v5"
)

// The TURN server answers STUN, allocates for known users within their
// quota, refuses strangers, and relays nowhere private unless allowed.
func TestTURNServer(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	allocs := make(chan string, 4)
	srv, err := NewTURNServer(TURNConfig{
		PacketConn: pc, RelayIP: net.IPv4(127, 0, 0, 1), Users: map[string]string{"alice": "pw"},
		MaxAllocations: 1,
		OnAllocation:   func(user string, _, _ net.Addr) { allocs <- user },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	addr := pc.LocalAddr().String()
	client := func(user, pass string) *turn.Client {
		conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		c, err := turn.NewClient(&turn.ClientConfig{STUNServerAddr: addr, TURNServerAddr: addr, Username: user, Password: pass, Realm: "pex", Conn: conn, LoggerFactory: quietLogger{}, RTO: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		if err := c.Listen(); err != nil {
			t.Fatal(err)
		}
		return c
	}
	a := client("alice", "pw")
	if seen, err := a.SendBindingRequest(); err != nil || seen.(*net.UDPAddr).Port == 0 {
		t.Fatalf("STUN binding: %v %v", seen, err)
	}
	relay, err := a.Allocate()
	if err != nil {
		t.Fatalf("alice's allocation: %v", err)
	}
	defer relay.Close()
	if u := <-allocs; u != "alice" {
		t.Fatalf("allocation reported for %q", u)
	}
	// Over alice's quota of one.
	if _, err := client("alice", "pw").Allocate(); err == nil {
		t.Fatal("a second allocation over the quota was granted")
	}
	if _, err := client("mallory", "guess").Allocate(); err == nil {
		t.Fatal("an unknown user was allocated")
	}
	// The relay refuses to send to a private address (127.0.0.1 here):
	// the permission is denied, so nothing arrives.
	target, _ := net.ListenPacket("udp4", "127.0.0.1:0")
	defer target.Close()
	relay.WriteTo([]byte("x"), target.LocalAddr())
	target.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, _, err := target.ReadFrom(make([]byte, 10)); err == nil {
		t.Fatal("the relay sent to a loopback address")
	}
}
