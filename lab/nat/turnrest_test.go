package nat

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"

	"github.com/seed0021ed4d/pex/lab/natlab"
	"github.com/seed0021ed4d/pex/lab/proc"
	"github.com/seed0021ed4d/pex/turnrest"
)

// Short-lived TURN credentials (the TURN REST API) across the lab, against
// the TURN server most operators run, coturn (use-auth-secret,
// static-auth-secret), and against pex turn --auth-secret.

// labSecret is the secret the lab's TURN servers and nodes share, as
// openssl rand -base64 32 writes it.
const labSecret = "Zm9yIHRoZSBwZXggbGFiLCBub3QgYSBzZWNyZXQhIQ=="

// needCoturn returns coturn's path; it fails the test under CI=true, and
// skips it elsewhere, when coturn is missing (Debian: coturn).
func needCoturn(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("turnserver")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("coturn is not installed (Debian: coturn)")
		}
		t.Skip("coturn is not installed (Debian: coturn)")
	}
	return path
}

// coturnConfig is the configuration the test gives coturn: the lines of
// docs/operating.md for short-lived credentials and for the peers it may
// relay to, and the lab's addresses. Its pid file and database stay in
// dir, not in /var.
//
// The denied-peer-ip lines keep coturn from relaying into private
// networks, as pex turn refuses to without --allow-private. Without them
// the browser's pair failed here: Chromium had coturn send its checks to
// the Go node's private host address too, coturn logged "udp send:
// Network is unreachable" (the lab's public hosts have no route there),
// and nothing crossed the page's relay after.
func coturnConfig(h *natlab.Host, dir string) string {
	return fmt.Sprintf(`listening-ip=%[1]s
listening-port=3478
relay-ip=%[1]s
realm=pex
use-auth-secret
static-auth-secret=%[2]s
fingerprint
no-multicast-peers
denied-peer-ip=0.0.0.0-0.255.255.255
denied-peer-ip=10.0.0.0-10.255.255.255
denied-peer-ip=100.64.0.0-100.127.255.255
denied-peer-ip=127.0.0.0-127.255.255.255
denied-peer-ip=169.254.0.0-169.254.255.255
denied-peer-ip=172.16.0.0-172.31.255.255
denied-peer-ip=192.168.0.0-192.168.255.255
simple-log
pidfile=%[3]s/turnserver.pid
userdb=%[3]s/turndb
`, h.Addr, labSecret, dir)
}

// startCoturn runs coturn in host h on port 3478, in the foreground (no
// daemon), with a configuration file the test writes, no CLI, no TLS or
// DTLS, its log on stdout; the test ends it by its process id. It returns
// coturn's process once its UDP listener is open.
func startCoturn(t *testing.T, h *natlab.Host, bin string) *proc.Proc {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "turnserver.conf")
	if err := os.WriteFile(conf, []byte(coturnConfig(h, dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := h.Command(context.Background(), bin, "-c", conf, "--no-cli", "--no-tls", "--no-dtls", "--log-file", "stdout", "--verbose")
	p := proc.StartT(t, cmd, proc.Name(h.NS+": coturn"))
	listening := fmt.Sprintf("UDP listener opened on: %s:3478", h.Addr)
	if !p.Until(10*time.Second, func() bool { return strings.Contains(p.Log(), listening) }) {
		t.Fatalf("coturn did not open %s:3478", h.Addr)
	}
	return p
}

// turnAllocHelper asks the TURN server NAT_TURN_SERVER for a relay with
// pion's client, as NAT_TURN_USER with NAT_TURN_PASS, and prints the
// outcome as one JSON object: relay, or error.
func turnAllocHelper() {
	out := map[string]string{}
	defer func() { b, _ := json.Marshal(out); fmt.Println(string(b)) }()
	conn, err := net.ListenPacket("udp4", ":0")
	if err != nil {
		out["error"] = err.Error()
		return
	}
	defer conn.Close()
	logs := logging.NewDefaultLoggerFactory()
	logs.DefaultLogLevel = logging.LogLevelDisabled
	server := os.Getenv("NAT_TURN_SERVER")
	c, err := turn.NewClient(&turn.ClientConfig{STUNServerAddr: server, TURNServerAddr: server,
		Username: os.Getenv("NAT_TURN_USER"), Password: os.Getenv("NAT_TURN_PASS"), Conn: conn, LoggerFactory: logs})
	if err == nil {
		defer c.Close()
		err = c.Listen()
	}
	if err != nil {
		out["error"] = err.Error()
		return
	}
	relay, err := c.Allocate()
	if err != nil {
		out["error"] = err.Error()
		return
	}
	out["relay"] = relay.LocalAddr().String()
	relay.Close()
}

// allocateFrom runs turnAllocHelper in host h: the relayed address the
// server gave, or its refusal.
func allocateFrom(t *testing.T, h *natlab.Host, server string, c turnrest.Credential) (relay, refusal string) {
	t.Helper()
	self, _ := os.Executable()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := h.Command(ctx, self)
	cmd.Env = append(os.Environ(), "NAT_HELPER=turnalloc", "NAT_TURN_SERVER="+server, "NAT_TURN_USER="+c.Username, "NAT_TURN_PASS="+c.Password)
	b, err := cmd.Output()
	var out struct{ Relay, Error string }
	if err != nil || json.Unmarshal(b, &out) != nil {
		t.Fatalf("the TURN client in %s: %v: %s", h.NS, err, b)
	}
	return out.Relay, out.Error
}

// A pair of pex nodes each behind a symmetric NAT (no hole punch can join
// them) meets through the public relay and connects over WebRTC relayed
// by TURN, each node minting its credentials from --turn-secret: through
// coturn with use-auth-secret, and through pex turn --auth-secret. Each
// server relays for a fresh credential minted here by hand and refuses
// the same name's credential whose expiry has passed (pex node cannot
// mint one: --turn-ttl is at least a minute); pex turn says why.
func TestShortLivedTURNCredentials(t *testing.T) {
	coturn := needCoturn(t)
	l := natlab.New(t)
	ct, pt, relay, probe := l.PublicHost("coturn"), l.PublicHost("pexturn"), l.PublicHost("relay"), l.PublicHost("probe")
	secretFile := filepath.Join(t.TempDir(), "turn-secret")
	if err := os.WriteFile(secretFile, []byte(labSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	coturnProc := startCoturn(t, ct, coturn)
	pexTurn := start(t, pt, "turn", "--listen", pt.Addr.String()+":3478", "--relay-ip", pt.Addr.String(), "--auth-secret", secretFile)
	relayAddr := relay.Addr.String() + ":7000"
	start(t, relay, "node", "--network", network, "--listen", relayAddr, "--no-webrtc")
	a, b := l.HomeHost("a", natlab.Symmetric, 0), l.HomeHost("b", natlab.Symmetric, 0)
	if pexTurn.Wait("listening", 10*time.Second, nil) == nil {
		t.Fatal("pex turn did not start")
	}

	for _, srv := range []struct {
		name string
		host *natlab.Host
		log  func() string // what the server said, for the test's failure
	}{
		{"coturn", ct, coturnProc.Log},
		{"pex-turn", pt, func() string { return pexTurn.Report(20) }},
	} {
		t.Run(srv.name, func(t *testing.T) {
			server := srv.host.Addr.String() + ":3478"
			ice := []string{"--ice-server", "stun:" + server, "--ice-server", "turn:" + server, "--turn-secret", secretFile}
			o := meet(t, a, b, relayAddr, ice, 25*time.Second)
			report(t, "symmetric NAT pair, short-lived credentials, "+srv.name, []outcome{o})
			// The link's remote address is a relay of this server's.
			if host, _, _ := net.SplitHostPort(o.remote); !o.ok || o.transport != "webrtc" || o.candidate != "relay" || host != srv.host.Addr.String() {
				t.Errorf("the pair did not meet relayed over WebRTC through %s: %+v\n%s", srv.name, o, srv.log())
			}

			fresh := turnrest.Mint([]byte(labSecret), "lab-probe", time.Now().Add(time.Minute))
			expired := turnrest.Mint([]byte(labSecret), "lab-probe", time.Now().Add(-time.Minute))
			if r, err := allocateFrom(t, probe, server, fresh); r == "" {
				t.Errorf("%s refused a fresh credential: %s", srv.name, err)
			} else {
				t.Logf("%s relayed for %s at %s", srv.name, fresh.Username, r)
			}
			if r, err := allocateFrom(t, probe, server, expired); r != "" {
				t.Errorf("%s relayed for an expired credential, at %s", srv.name, r)
			} else {
				t.Logf("%s refused %s: %s", srv.name, expired.Username, err)
			}
			if srv.name == "coturn" {
				// coturn says why in its log: the user name's expiry has
				// passed, so it computes no key for it.
				if why := "check_stun_auth: Cannot find credentials of user <" + expired.Username + ">"; !strings.Contains(coturnProc.Log(), why) {
					t.Errorf("coturn's log lacks %q:\n%s", why, coturnProc.Log())
				}
				for _, line := range strings.Split(coturnProc.Log(), "\n") {
					if strings.Contains(line, "ALLOCATE processed, success") {
						t.Logf("coturn: %s", strings.TrimSpace(line))
					}
				}
			}
		})
	}
	// pex turn says why it refused the expired credential; it allocated
	// for the nodes' credentials (named by their ids) and the probe's.
	if ev := pexTurn.Wait("auth-refused", 5*time.Second, nil); ev == nil || ev["reason"] != "expired" || ev["method"] != "Allocate" || !strings.HasSuffix(fmt.Sprint(ev["user"]), ":lab-probe") {
		t.Errorf("pex turn's refusal: %v", ev)
	} else {
		t.Logf("pex turn: auth-refused %v %v %v", ev["user"], ev["method"], ev["reason"])
	}
	for _, ev := range pexTurn.Events() {
		if ev["event"] == "allocation" {
			t.Logf("pex turn: allocation for %v from %v", ev["user"], ev["client"])
		}
	}
}

// A headless Chromium page behind a symmetric NAT, served by the relay
// with --turn-secret, meets a Go node behind another over WebRTC relayed
// by coturn: the page's credential, minted for its load and named by its
// address, is one coturn takes.
func TestBrowserShortLivedTURNCredentials(t *testing.T) {
	browser := chromium(t)
	coturn := needCoturn(t)
	l := natlab.New(t)
	ct, relay := l.PublicHost("coturn"), l.PublicHost("relay")
	secretFile := filepath.Join(t.TempDir(), "turn-secret")
	if err := os.WriteFile(secretFile, []byte(labSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	coturnProc := startCoturn(t, ct, coturn)
	server := ct.Addr.String() + ":3478"
	ice := []string{"--ice-server", "stun:" + server, "--ice-server", "turn:" + server, "--turn-secret", secretFile}
	relayAddr := relay.Addr.String() + ":7000"
	relayProc := start(t, relay, append([]string{"node", "--network", network, "--listen", relayAddr, "--no-webrtc", "--http", relay.Addr.String() + ":8080"}, ice...)...)
	if !relayProc.WaitCount("listening", 2, 10*time.Second) {
		t.Fatal("the relay did not start")
	}
	if relayProc.Count("turn-credentials-served", nil) != 0 {
		t.Error("the relay warned of long-term credentials its page does not carry")
	}
	g, w := l.HomeHost("g", natlab.Symmetric, 0), l.HomeHost("w", natlab.Symmetric, 0)
	defer openPage(t, w, browser, "http://"+relay.Addr.String()+":8080/?name=B")()
	if relayProc.Wait("connect", 20*time.Second, nil) == nil {
		t.Fatal("the page did not join the relay")
	}
	o := outcome{a: g.Router, b: w.Router}
	gp, err := startProc(g, append([]string{"node", "--network", network, "--connect", relayAddr, "--no-direct", "--want", "2"}, ice...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer gp.Stop()
	o.getNewPeer(gp, 25*time.Second)
	report(t, "Go (A) meets Chromium (B), both behind symmetric NATs, short-lived credentials, coturn", []outcome{o})
	if host, _, _ := net.SplitHostPort(o.remote); !o.ok || o.transport != "webrtc" || o.candidate != "relay" || host != ct.Addr.String() {
		t.Errorf("not relayed over WebRTC through coturn: %+v", o)
	}
	// The page asked coturn for a relay with its own credential.
	page := ":page-" + w.Public.String() + ">: incoming packet ALLOCATE processed, success"
	if !strings.Contains(coturnProc.Log(), page) {
		t.Errorf("coturn's log has no allocation for the page (%q):\n%s", page, coturnProc.Log())
	}
	for _, line := range strings.Split(coturnProc.Log(), "\n") {
		if strings.Contains(line, "ALLOCATE processed, success") {
			t.Logf("coturn: %s", strings.TrimSpace(line))
		}
	}
}
