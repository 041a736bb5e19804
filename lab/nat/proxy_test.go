package nat

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/lab/natlab"
	"github.com/seed0021ed4d/pex/lab/nginx"
	"github.com/seed0021ed4d/pex/lab/proc"
	"github.com/seed0021ed4d/pex/lab/testcert"
)

// trustingHome is a home directory whose NSS database (Chromium's store
// of the certificate authorities a user added) trusts ca: the pages load
// over HTTPS with the certificate checked, names and chain, as a user's
// browser checks a public one.
func trustingHome(t *testing.T, ca *testcert.CA) string {
	t.Helper()
	certutil, err := exec.LookPath("certutil")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("certutil is not installed (Debian: libnss3-tools)")
		}
		t.Skip("certutil is not installed (Debian: libnss3-tools)")
	}
	home := t.TempDir()
	db := "sql:" + filepath.Join(home, ".pki", "nssdb")
	caFile := filepath.Join(home, "ca.pem")
	if err := os.MkdirAll(filepath.Join(home, ".pki", "nssdb"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(caFile, ca.PEM, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-d", db, "-N", "--empty-password"},
		{"-d", db, "-A", "-t", "C,,", "-n", "pex test CA", "-i", caFile},
	} {
		if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %v: %v\n%s", args, err, out)
		}
	}
	return home
}

// Two headless Chromium pages, each in a home of its own behind a router
// (EIM NAT), load the page over HTTPS from Debian's nginx terminating TLS
// in front of pex node --http (on the proxy host's loopback), join the
// node over WSS through nginx and meet each other over WebRTC. With
// --trusted-proxy 127.0.0.1 the node sees each page at its own public
// address (its router's), as nginx tells it in X-Forwarded-For; without,
// it sees nginx's only. Last, the same pages load the page from pex
// itself, serving TLS with --tls-cert and --tls-key.
//
// Chromium runs as it ships: its host candidates are mDNS names, which
// the other page cannot resolve across routers, so the pages meet through
// the addresses a STUN server (pex turn) shows them, which the node's
// --ice-server hands the page. Chromium trusts the test's CA (trustingHome)
// rather than ignoring certificate errors: the name and chain presented
// are checked, and a wrong certificate fails the test.
func TestBrowsersBehindNginx(t *testing.T) {
	browser := chromium(t)
	nginx.Binary(t)
	for _, tc := range []struct {
		name           string
		nginx, trusted bool
	}{
		{"nginx, trusted-proxy", true, true},
		{"nginx, no trusted-proxy", true, false},
		{"pex's own TLS", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := natlab.New(t)
			stun, front := l.PublicHost("stun"), l.PublicHost("proxy")
			pages := map[string]*natlab.Host{"A": l.HomeHost("wa", natlab.EIM, 0), "B": l.HomeHost("wb", natlab.EIM, 0)}
			start(t, stun, "turn", "--listen", stun.Addr.String()+":3478", "--relay-ip", stun.Addr.String())
			dir := t.TempDir()
			ca := testcert.NewCA(t)
			cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
			ca.Issue(t, "pex.test").Write(t, cert, key)
			home := trustingHome(t, ca)

			args := []string{"node", "--network", network, "--ice-server", "stun:" + stun.Addr.String() + ":3478"}
			url := "https://pex.test/"
			switch {
			case !tc.nginx:
				args = append(args, "--http", front.Addr.String()+":8443", "--tls-cert", cert, "--tls-key", key)
				url = "https://pex.test:8443/"
			case tc.trusted:
				args = append(args, "--http", "127.0.0.1:8080", "--trusted-proxy", "127.0.0.1")
			default:
				args = append(args, "--http", "127.0.0.1:8080")
			}
			node := start(t, front, args...)
			if node.Wait("listening", 10*time.Second, nil) == nil {
				t.Fatal("the node did not start")
			}
			if tc.nginx {
				nginx.Start(t, nginx.Config{Listen: front.Addr.String() + ":443", ServerName: "pex.test",
					CertFile: cert, KeyFile: key, Upstream: "127.0.0.1:8080"}, front.Command)
			}

			resolve := "--host-resolver-rules=MAP pex.test " + front.Addr.String()
			for name, h := range pages {
				defer openPageWith(t, h, browser, url+"?name="+name+"&auto=1", []string{"HOME=" + home}, resolve)()
			}
			for _, name := range []string{"A", "B"} {
				other := map[string]string{"A": "B", "B": "A"}[name]
				line := name + " got over webrtc: webrtc hello from " + other
				if node.Wait("data", 40*time.Second, func(ev proc.Event) bool { return ev["line"] == line }) == nil {
					t.Fatalf("the node never heard %q", line)
				}
			}
			node.Wait("data", 2*time.Second, func(ev proc.Event) bool { // how the pages' pair connects
				s, _ := ev["line"].(string)
				return strings.Contains(s, "webrtc pair")
			})
			seen := map[string]bool{}
			for _, ev := range node.Events() {
				if ev["event"] == "connect" && ev["transport"] == "ws" {
					seen[ev["remote"].(string)] = true
				}
				if s, _ := ev["line"].(string); strings.Contains(s, "webrtc pair") {
					t.Logf("%s", s)
				}
			}
			t.Logf("the node saw the pages at %v (their routers: A %s, B %s)", slices.Sorted(maps.Keys(seen)), pages["A"].Public, pages["B"].Public)
			// The hosts the node should see the pages at: nginx's, or
			// the pages' routers'.
			want := map[string]bool{pages["A"].Public.String(): true, pages["B"].Public.String(): true}
			if tc.nginx && !tc.trusted {
				want = map[string]bool{"127.0.0.1": true}
			}
			hosts := map[string]bool{}
			for r := range seen {
				host := r[:strings.LastIndexByte(r, ':')]
				hosts[host] = true
				if !want[host] {
					t.Errorf("a page seen at %s, want one of %v", r, slices.Sorted(maps.Keys(want)))
				}
				if tc.trusted && !strings.HasSuffix(r, ":0") {
					t.Errorf("a page seen at %s: nginx names no port, want port 0", r)
				}
			}
			if len(hosts) != len(want) {
				t.Errorf("the node saw the pages at %v, want %v", slices.Sorted(maps.Keys(seen)), slices.Sorted(maps.Keys(want)))
			}
		})
	}
}
