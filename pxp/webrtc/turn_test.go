package webrtc

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
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

// A TURN server given a Logger logs pion/turn's own lines through it,
// with their scope and at slog's levels; pion's trace is below debug.
func TestTURNServerLogger(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	srv, err := NewTURNServer(TURNConfig{PacketConn: pc, RelayIP: net.IPv4(127, 0, 0, 1),
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c, err := turn.NewClient(&turn.ClientConfig{STUNServerAddr: pc.LocalAddr().String(), Conn: conn, LoggerFactory: quietLogger{}, RTO: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendBindingRequest(); err != nil {
		t.Fatal(err)
	}
	srv.Close() // the request was answered, so logged: every line is in
	want := fmt.Sprintf(`level=DEBUG msg="Received BindingRequest from %s" scope=turn`, conn.LocalAddr())
	if !strings.Contains(logs.String(), want) {
		t.Fatalf("logged %q, want a line with %q", logs.String(), want)
	}
	var trace syncBuffer
	l := slogFactory{slog.New(slog.NewTextHandler(&trace, &slog.HandlerOptions{Level: LevelTrace}))}.NewLogger("ice")
	l.Tracef("check %d", 1)
	l.Errorf("failed %s", "x")
	if got := trace.String(); !strings.Contains(got, `level=DEBUG-4 msg="check 1" scope=ice`) || !strings.Contains(got, `level=ERROR msg="failed x" scope=ice`) {
		t.Fatalf("trace logger wrote %q", got)
	}
}

// syncBuffer is a strings.Builder safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	sb strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sb.String()
}
