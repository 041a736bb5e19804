package nat

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/internal/natlab"
)

// A Go node behind each kind of router reaches a headless Chromium page
// behind each kind of router. The page is served by the public relay,
// which tells it the network and the ICE servers (STUN and TURN); the
// page joins over WebSocket and answers the Go node's WebRTC upgrade.
func TestGoMeetsBrowserAcrossNATs(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed")
		}
		t.Skip("chromium is not installed")
	}
	l := natlab.New(t)
	stun := l.PublicHost("stun")
	relay := l.PublicHost("relay")
	start(t, stun, "turn", "--listen", stun.Addr.String()+":3478", "--relay-ip", stun.Addr.String(), "--user", "lab:lab")
	stunURL, turnURL := "stun:"+stun.Addr.String()+":3478", "turn:"+stun.Addr.String()+":3478"
	ice := []string{"--ice-server", stunURL, "--ice-server", turnURL, "--turn-user", "lab", "--turn-pass", "lab"}
	r := start(t, relay, append([]string{"node", "--network", network, "--listen", relay.Addr.String() + ":7000",
		"--http", relay.Addr.String() + ":8080", "--no-webrtc"}, ice...)...)
	if r.wait("listening", 10*time.Second, func(ev map[string]any) bool { return ev["transport"] == "http" }) == nil {
		t.Fatal("the relay did not start")
	}
	relayAddr := relay.Addr.String() + ":7000"
	kinds := []natlab.Router{natlab.Public, natlab.EIM, natlab.Symmetric, natlab.Firewall}
	goHosts, browserHosts := map[natlab.Router]*natlab.Host{}, map[natlab.Router]*natlab.Host{}
	for _, k := range kinds {
		goHosts[k], browserHosts[k] = l.HomeHost("g"+k.String(), k, 5000), l.HomeHost("w"+k.String(), k, 5000)
	}
	var results []outcome
	for _, kb := range kinds {
		func() {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			joined := r.count("connect")
			pageJoined := func() bool { return r.count("connect") > joined }
			browser := browserHosts[kb].Command(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu",
				"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
				"--disable-quic", "--user-data-dir="+t.TempDir(), "--disable-features=WebRtcHideLocalIpsWithMdns",
				"http://"+relay.Addr.String()+":8080/?name=B")
			if err := browser.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { browser.Process.Kill(); browser.Wait() }() // the Chromium we started, by its id
			for end := time.Now().Add(20 * time.Second); !pageJoined() && time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			}
			if !pageJoined() {
				for _, kg := range kinds {
					results = append(results, outcome{a: kg, b: kb, reason: "the page did not join the relay"})
				}
				return
			}
			for _, kg := range kinds {
				o := outcome{a: kg, b: kb}
				g, err := startProc(goHosts[kg], append([]string{"node", "--network", network, "--connect", relayAddr, "--no-direct", "--want", "2"}, ice...)...)
				if err != nil {
					t.Fatal(err)
				}
				if ev := g.wait("getnewpeer", 25*time.Second, nil); ev == nil {
					o.reason = "no introduction within 25 s"
					if e := g.last("error"); e != nil {
						o.reason, _ = e["error"].(string)
					}
				} else {
					o.ok = true
					o.transport, _ = ev["transport"].(string)
					o.candidate, _ = ev["candidate"].(string)
					o.ms, _ = ev["ms"].(float64)
				}
				g.stop()
				results = append(results, o)
			}
		}()
	}
	report(t, "Go (A) meets Chromium (B), STUN and TURN", results)
	for _, o := range results {
		switch {
		case !o.ok:
			t.Errorf("Go behind %s, Chromium behind %s: not connected: %s", o.a, o.b, o.reason)
		case o.transport != "webrtc":
			t.Errorf("Go behind %s, Chromium behind %s: %s, not WebRTC", o.a, o.b, o.transport)
		case punchable(o.a, o.b) && o.candidate == "relay":
			t.Errorf("Go behind %s, Chromium behind %s: relayed, though a direct path exists", o.a, o.b)
		}
	}
}

// The other direction: a headless Chromium page behind each kind of
// router asks the relay for a new peer (the page's auto mode calls
// getNewPeer until it has a WebRTC link) and reaches a Go node behind each
// kind of router; the Go node's connect event says how.
func TestBrowserMeetsGoAcrossNATs(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed")
		}
		t.Skip("chromium is not installed")
	}
	l := natlab.New(t)
	stun := l.PublicHost("stun")
	relay := l.PublicHost("relay")
	start(t, stun, "turn", "--listen", stun.Addr.String()+":3478", "--relay-ip", stun.Addr.String(), "--user", "lab:lab")
	stunURL, turnURL := "stun:"+stun.Addr.String()+":3478", "turn:"+stun.Addr.String()+":3478"
	ice := []string{"--ice-server", stunURL, "--ice-server", turnURL, "--turn-user", "lab", "--turn-pass", "lab"}
	r := start(t, relay, append([]string{"node", "--network", network, "--listen", relay.Addr.String() + ":7000",
		"--http", relay.Addr.String() + ":8080", "--no-webrtc"}, ice...)...)
	if r.wait("listening", 10*time.Second, func(ev map[string]any) bool { return ev["transport"] == "http" }) == nil {
		t.Fatal("the relay did not start")
	}
	relayAddr := relay.Addr.String() + ":7000"
	kinds := []natlab.Router{natlab.Public, natlab.EIM, natlab.Symmetric, natlab.Firewall}
	goHosts, browserHosts := map[natlab.Router]*natlab.Host{}, map[natlab.Router]*natlab.Host{}
	for _, k := range kinds {
		goHosts[k], browserHosts[k] = l.HomeHost("g"+k.String(), k, 5000), l.HomeHost("w"+k.String(), k, 5000)
	}
	var results []outcome
	for _, kb := range kinds {
		for _, kg := range kinds {
			o := outcome{a: kb, b: kg}
			func() {
				g, err := startProc(goHosts[kg], append([]string{"node", "--network", network, "--connect", relayAddr, "--no-direct"}, ice...)...)
				if err != nil {
					t.Fatal(err)
				}
				defer g.stop()
				if g.wait("connect", 10*time.Second, nil) == nil {
					o.reason = "the Go node did not reach the relay"
					return
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				began := time.Now()
				browser := browserHosts[kb].Command(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu",
					"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
					"--disable-quic", "--user-data-dir="+t.TempDir(), "--disable-features=WebRtcHideLocalIpsWithMdns",
					"http://"+relay.Addr.String()+":8080/?name=A&auto=1")
				if err := browser.Start(); err != nil {
					t.Fatal(err)
				}
				defer func() { browser.Process.Kill(); browser.Wait() }() // the Chromium we started, by its id
				ev := g.wait("connect", 30*time.Second, func(ev map[string]any) bool { return ev["transport"] == "webrtc" })
				if ev == nil {
					o.reason = "no WebRTC link within 30 s"
					return
				}
				o.ok = true
				o.transport, _ = ev["transport"].(string)
				o.candidate, _ = ev["candidate"].(string)
				o.ms = float64(time.Since(began).Milliseconds()) // from Chromium's start: the page loads first
			}()
			results = append(results, o)
		}
	}
	report(t, "Chromium (A) meets Go (B), STUN and TURN; times from Chromium's start", results)
	// Every pair must connect. Which candidate pair carries the link is
	// Chromium's choice here (it is the controlling agent, and its
	// libwebrtc may nominate a relayed pair that succeeded first, as the
	// JS reference's does); TestGoMeetsBrowserAcrossNATs holds pion, in
	// the other direction, to the direct share.
	for _, o := range results {
		if !o.ok {
			t.Errorf("Chromium behind %s, Go behind %s: not connected: %s", o.a, o.b, o.reason)
		}
	}
}
