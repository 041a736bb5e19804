package webrtc

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/turn/v5"

	"github.com/seed0021ed4d/pex/turnrest"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type refusal struct{ user, method, reason string }

// turnClient is a pion/turn client of the server at addr, closed when the
// test ends.
func turnClient(t *testing.T, addr, user, pass string) *turn.Client {
	t.Helper()
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

// With AuthSecret the server takes TURN REST credentials beside its
// long-term users: a fresh one allocates; an expired one, a forged one
// and one of another secret are refused and reported; the quota counts
// by the credential's name. An allocation made in time outlives its
// credential: its permissions and its deletion, sent with the expired
// credential, are taken.
func TestTURNServerRESTCredentials(t *testing.T) {
	secret := []byte("north-wind-0123456789abcdef")
	clock := &fakeClock{now: time.Unix(1700000000, 0)}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := make(chan refusal, 16)
	allocs, closed := make(chan string, 8), make(chan string, 8)
	srv, err := NewTURNServer(TURNConfig{
		PacketConn: pc, RelayIP: net.IPv4(127, 0, 0, 1), AllowPrivate: true,
		Users: map[string]string{"lab": "lab"}, AuthSecret: secret, Now: clock.Now, MaxAllocations: 1,
		OnAllocation:       func(user string, _, _ net.Addr) { allocs <- user },
		OnAllocationClosed: func(user string, _ net.Addr) { closed <- user },
		OnAuthRefused: func(user string, _ net.Addr, method, reason string) {
			refused <- refusal{user, method, reason}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	addr := pc.LocalAddr().String()
	expectRefused := func(what string, want refusal) {
		t.Helper()
		select {
		case r := <-refused:
			if r != want {
				t.Errorf("%s: refused %+v, want %+v", what, r, want)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s: no refusal reported", what)
		}
	}

	good := turnrest.Mint(secret, "alice", clock.Now().Add(time.Minute))
	relay, err := turnClient(t, addr, good.Username, good.Password).Allocate()
	if err != nil {
		t.Fatalf("a fresh credential: %v", err)
	}
	if u := <-allocs; u != "alice" {
		t.Fatalf("allocation reported for %q, want the credential's name", u)
	}

	// Another credential for alice, minted later: the same quota of one.
	later := turnrest.Mint(secret, "alice", clock.Now().Add(2*time.Minute))
	if _, err := turnClient(t, addr, later.Username, later.Password).Allocate(); err == nil {
		t.Fatal("a second allocation for alice, over her quota, was granted")
	}
	// The long-term user beside: its own quota.
	lab, err := turnClient(t, addr, "lab", "lab").Allocate()
	if err != nil {
		t.Fatalf("the long-term user: %v", err)
	}
	lab.Close()
	<-allocs
	<-closed

	expired := turnrest.Mint(secret, "bob", clock.Now().Add(-time.Second))
	if _, err := turnClient(t, addr, expired.Username, expired.Password).Allocate(); err == nil {
		t.Fatal("an expired credential allocated")
	}
	expectRefused("expired", refusal{expired.Username, "Allocate", RefusedExpired})

	forged := turnrest.Mint([]byte("guessed-secret-0123456789"), "bob", clock.Now().Add(time.Hour))
	if _, err := turnClient(t, addr, forged.Username, forged.Password).Allocate(); err == nil {
		t.Fatal("a credential of another secret allocated")
	}
	expectRefused("forged", refusal{forged.Username, "Allocate", RefusedWrongPassword})

	if _, err := turnClient(t, addr, "x1700000000:bob", good.Password).Allocate(); err == nil {
		t.Fatal("a malformed user name allocated")
	}
	expectRefused("malformed", refusal{"x1700000000:bob", "Allocate", RefusedMalformed})
	if _, err := turnClient(t, addr, "mallory", "guess").Allocate(); err == nil {
		t.Fatal("an unknown user allocated")
	}
	expectRefused("unknown", refusal{"mallory", "Allocate", RefusedUnknownUser})

	// alice's credential expires; her allocation lives on: a permission
	// for a new peer (CreatePermission with the expired credential) lets
	// her data through, and her Close (a Refresh of lifetime 0) ends it.
	clock.Add(time.Hour)
	target, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if _, err := relay.WriteTo([]byte("after expiry"), target.LocalAddr()); err != nil {
		t.Fatalf("write after the credential expired: %v", err)
	}
	buf := make([]byte, 64)
	target.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, _, err := target.ReadFrom(buf); err != nil || string(buf[:n]) != "after expiry" {
		t.Fatalf("relayed after the credential expired: %q, %v", buf[:n], err)
	}
	relay.Close()
	select {
	case u := <-closed:
		if u != "alice" {
			t.Fatalf("closed %q", u)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("alice's allocation was not deleted by her Refresh with the expired credential")
	}
	select {
	case r := <-refused:
		t.Fatalf("refused %+v after expiry, in an allocation made in time", r)
	default:
	}
}

// turnrest's credentials are pion/turn's own, an implementation written
// apart from it: for one user name both give one password.
func TestRESTCredentialsMatchPion(t *testing.T) {
	secret := "north-wind-0123456789abcdef"
	user, pass, err := turn.GenerateLongTermTURNRESTCredentials(secret, "alice", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	expires, name, err := turnrest.Parse(user)
	if err != nil || name != "alice" {
		t.Fatalf("Parse(%q) = %q, %v", user, name, err)
	}
	if c := turnrest.Mint([]byte(secret), name, expires); c.Username != user || c.Password != pass {
		t.Fatalf("turnrest minted %+v, pion %q %q", c, user, pass)
	}
}

// A short secret is refused: one minted credential would give it away
// to whoever tries every short secret.
func TestTURNServerRefusesShortSecret(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := NewTURNServer(TURNConfig{PacketConn: pc, RelayIP: net.IPv4(127, 0, 0, 1), AuthSecret: []byte("short")}); err == nil || !strings.Contains(err.Error(), "secret") {
		t.Fatalf("NewTURNServer with a 5-byte secret: %v", err)
	}
}

// With ICECredentials each upgrade's TURN servers get the credential it
// gives then; STUN servers get none.
func TestICECredentialsPerUpgrade(t *testing.T) {
	n := 0
	u, err := New(&Config{ICEServers: []string{"stun:192.0.2.1:3478", "turn:192.0.2.1:3478"},
		ICEUsername: "static", ICECredential: "static",
		ICECredentials: func() (string, string) {
			n++
			return "user-" + string(rune('0'+n)), "pass"
		}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		s := u.iceServers()
		if s[0].Username != "" || s[0].Credential != nil {
			t.Fatalf("the STUN server got %q %v", s[0].Username, s[0].Credential)
		}
		if want := "user-" + string(rune('0'+i)); s[1].Username != want || s[1].Credential != "pass" {
			t.Fatalf("upgrade %d: the TURN server got %q %v, want %q", i, s[1].Username, s[1].Credential, want)
		}
	}
}
