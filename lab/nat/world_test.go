package nat

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/lab/natlab"
	"github.com/seed0021ed4d/pex/lab/proc"
)

const network = "nat-lab"

// world is a lab with its public servers: a STUN and TURN server (pex
// turn) and a relay (pex node, no WebRTC of its own).
type world struct {
	*natlab.Lab
	relay            *natlab.Host
	relayProc        *proc.Proc
	stunURL, turnURL string
}

// newWorld starts the public servers of an IPv4 lab; with servePage the
// relay also serves the browser page (and tells it the ICE servers).
func newWorld(t *testing.T, servePage bool) *world {
	return newWorldWith(t, servePage, natlab.Options{})
}

// newWorldWith is newWorld in a lab shaped by opts.
func newWorldWith(t *testing.T, servePage bool, opts natlab.Options) *world {
	l := natlab.NewWith(t, opts)
	stun, relay := l.PublicHost("stun"), l.PublicHost("relay")
	w := &world{Lab: l, relay: relay,
		stunURL: "stun:" + stun.Addr.String() + ":3478", turnURL: "turn:" + stun.Addr.String() + ":3478"}
	start(t, stun, "turn", "--listen", stun.Addr.String()+":3478", "--relay-ip", stun.Addr.String(), "--user", "lab:lab")
	args := []string{"node", "--network", network, "--listen", w.relayAddr(), "--no-webrtc"}
	listeners := 1
	if servePage {
		args = append(append(args, "--http", relay.Addr.String()+":8080"), w.ice(true)...)
		listeners++
	}
	w.relayProc = start(t, relay, args...)
	if !w.relayProc.WaitCount("listening", listeners, 10*time.Second) {
		t.Fatal("the relay did not start")
	}
	return w
}

func (w *world) relayAddr() string { return w.relay.Addr.String() + ":7000" }

// pageURL is the address of the relay's browser page, with query.
func (w *world) pageURL(query string) string {
	return "http://" + w.relay.Addr.String() + ":8080/" + query
}

// ice is the ICE flags of a node: STUN, and TURN with its credentials.
func (w *world) ice(withTURN bool) []string {
	f := []string{"--ice-server", w.stunURL}
	if withTURN {
		f = append(f, "--ice-server", w.turnURL, "--turn-user", "lab", "--turn-pass", "lab")
	}
	return f
}

// node is the command line of a pex node that joins through the relay
// (no direct dials, wanting want peers when want > 0), with STUN and TURN.
func (w *world) node(want int) []string {
	args := []string{"node", "--network", network, "--connect", w.relayAddr(), "--no-direct"}
	if want > 0 {
		args = append(args, "--want", fmt.Sprint(want))
	}
	return append(args, w.ice(true)...)
}

// goNode starts a pex node in h that joins through the relay (node's
// flags); the caller stops it.
func (w *world) goNode(t *testing.T, h *natlab.Host, want int) *proc.Proc {
	t.Helper()
	p, err := startProc(h, w.node(want)...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// answerer starts a Go node in h that waits in the relay to be
// introduced; it is nil (and stopped) when the node did not reach the
// relay.
func (w *world) answerer(t *testing.T, h *natlab.Host) *proc.Proc {
	t.Helper()
	g := w.goNode(t, h, 0)
	if g.Wait("connect", 10*time.Second, nil) == nil {
		g.Stop()
		return nil
	}
	return g
}

// homes makes one home host behind each kind of router, named prefix+kind.
func (w *world) homes(prefix string, kinds []natlab.Router) map[natlab.Router]*natlab.Host {
	hs := map[natlab.Router]*natlab.Host{}
	for _, k := range kinds {
		hs[k] = w.HomeHost(prefix+k.String(), k, 5000)
	}
	return hs
}

// fourKinds are the router kinds the JS and browser matrices use.
var fourKinds = []natlab.Router{natlab.Public, natlab.EIM, natlab.Symmetric, natlab.Firewall}

// outcome is how one pair met.
type outcome struct {
	a, b      natlab.Router
	ok        bool
	transport string
	candidate string
	ms        float64
	remote    string // the WebRTC link's remote address (A's connect event), when known
	reason    string
}

// connected fills o from the event that reported the link.
func (o *outcome) connected(ev map[string]any) {
	o.ok = true
	o.transport, _ = ev["transport"].(string)
	o.candidate, _ = ev["candidate"].(string)
	o.ms, _ = ev["ms"].(float64)
}

// getNewPeer waits, at most limit, for p's getnewpeer event and fills o
// from it, or with p's last error.
func (o *outcome) getNewPeer(p *proc.Proc, limit time.Duration) {
	if ev := p.Wait("getnewpeer", limit, nil); ev != nil {
		o.connected(ev)
		if c := p.Wait("connect", time.Second, func(c map[string]any) bool { return c["peer"] == ev["peer"] }); c != nil {
			o.remote, _ = c["remote"].(string)
		}
		if e := p.Last("error"); o.transport != "webrtc" && e != nil {
			o.reason = fmt.Sprint(e["error"]) // why the upgrade failed, when it did
		}
		return
	}
	o.reason = fmt.Sprintf("no introduction within %v", limit)
	if e := p.Last("error"); e != nil {
		o.reason = fmt.Sprint(e["error"])
	}
}

// check fails the test for every pair A (of kind a) and B did not connect;
// with strict, also for one not over WebRTC or relayed where a punch could
// join them (the asker's ICE agent nominates: strict holds pion to it).
func check(t *testing.T, a, b string, results []outcome, strict bool) {
	t.Helper()
	for _, o := range results {
		switch {
		case !o.ok:
			t.Errorf("%s behind %s, %s behind %s: not connected: %s", a, o.a, b, o.b, o.reason)
		case strict && o.transport != "webrtc":
			t.Errorf("%s behind %s, %s behind %s: %s, not WebRTC (last error: %q)", a, o.a, b, o.b, o.transport, o.reason)
		case strict && punchable(o.a, o.b) && o.candidate == "relay":
			t.Errorf("%s behind %s, %s behind %s: relayed, though a direct path exists", a, o.a, b, o.b)
		}
	}
}

// chromium is the browser's path; the test is skipped (or fails, under
// CI=true) without it.
func chromium(t *testing.T) string {
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed")
		}
		t.Skip("chromium is not installed")
	}
	return path
}

// openPage runs headless Chromium in host h on url until stop, with its
// local addresses shown to pages (--disable-features=WebRtcHideLocalIpsWithMdns),
// or, with PEX_BROWSER_MDNS=1 in the environment, as it ships: its host
// candidates behind mDNS names.
func openPage(t *testing.T, h *natlab.Host, chromium, url string) (stop func()) {
	if os.Getenv("PEX_BROWSER_MDNS") == "1" {
		return openPageWith(t, h, chromium, url, nil)
	}
	return openPageWith(t, h, chromium, url, nil, "--disable-features=WebRtcHideLocalIpsWithMdns")
}

// openPageWith runs headless Chromium in host h on url until stop, with
// env added to its environment and flags added to its own.
func openPageWith(t *testing.T, h *natlab.Host, chromium, url string, env []string, flags ...string) (stop func()) {
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--disable-quic", "--user-data-dir=" + t.TempDir()}, flags...)
	cmd := h.Command(t.Context(), chromium, append(args, url)...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	if dir := os.Getenv("PEX_NAT_DEBUG"); dir != "" { // its log and the page's console
		if f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-chromium-%d.log", h.NS, time.Now().UnixNano()))); err == nil {
			defer f.Close() // the process has its own copy
			cmd.Stdout, cmd.Stderr = f, f
			cmd.Args = append(cmd.Args[:len(cmd.Args)-1], "--enable-logging=stderr", url)
		}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return func() { cmd.Process.Kill(); cmd.Wait() } // the Chromium we started, by its id
}
