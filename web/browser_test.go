package web

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestServesPage(t *testing.T) {
	srv := httptest.NewServer(Handler(Page{Network: `my "net"`, ICEServers: []ICEServer{{URLs: []string{"stun:192.0.2.1:3478"}}}}, http.NotFoundHandler()))
	defer srv.Close()
	for _, p := range []string{"/", "/pxp.js", "/network.js"} {
		res, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("%s: %s", p, res.Status)
		}
		// The page joins the serving node's network, quoted as a JS string.
		if want := `window.PEX_NETWORK = "my \"net\""` + "\n" + `window.PEX_ICE_SERVERS = [{"urls":["stun:192.0.2.1:3478"]}]`; p == "/network.js" && !strings.Contains(string(body), want) {
			t.Fatalf("/network.js = %q, want %s", body, want)
		}
		if p == "/" && !strings.Contains(string(body), `src="network.js"`) {
			t.Fatal("the page does not load network.js")
		}
	}
}

// need returns the path of a program or fails (under CI=true) or skips.
func need(t *testing.T, prog string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed", prog)
		}
		t.Skipf("%s is not installed", prog)
	}
	return p
}

// browsers is one run of two headless Chromium pages, A and B, joining a
// pex node (--http 127.0.0.1:7300) in a private network namespace made
// for the run: Chromium gathers no loopback candidates, so the namespace
// gets a veth pair with a private address of its own, and no packet
// leaves it.
type browsers struct {
	// page is the URL each page loads, %[1]s its name.
	page string
	// app, when set, is a directory served as a web application of its
	// own origin, http://127.0.0.1:7301 (python3's http.server).
	app string
	// mdns leaves Chromium as it ships: its host candidates are mDNS
	// names (name.local), not addresses. Without it the browser tests
	// turn that off (--disable-features=WebRtcHideLocalIpsWithMdns), as
	// no user's browser does.
	mdns bool
}

// run runs the pages until both told the node what they got over WebRTC
// from the other (or 30 s passed) and returns the node's log.
func (b browsers) run(t *testing.T) string {
	t.Helper()
	chromium := need(t, "chromium")
	need(t, "unshare")
	need(t, "ip")
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "pex")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/pex").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	app := ""
	if b.app != "" {
		app = fmt.Sprintf("%s -m http.server --bind 127.0.0.1 --directory %s 7301 > %s/app.log 2>&1 &\n"+
			"pids=\"$pids $!\"\n"+
			"for i in $(seq 1 50); do grep -q Serving %s/app.log && break; sleep 0.1; done\n", need(t, "python3"), b.app, dir, dir)
	}
	mdns := "--disable-features=WebRtcHideLocalIpsWithMdns"
	if b.mdns {
		mdns = ""
	}
	script := fmt.Sprintf(`set -e
ip link set lo up
ip link add pv0 type veth peer name pv1
ip addr add 10.77.0.1/24 dev pv0
ip link set pv0 up
ip link set pv1 up
ip route add default dev pv0
%[1]s node --network browser-test-net --http 127.0.0.1:7300 --json > %[2]s/node.log 2>&1 &
pids=$!
for i in $(seq 1 50); do grep -q listening %[2]s/node.log && break; sleep 0.1; done
%[4]s
for n in A B; do
  timeout 40 %[3]s --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --disable-quic \
    --user-data-dir=%[2]s/profile-$n %[5]s \
    "$(printf '%[6]s' $n)" > %[2]s/chromium-$n.log 2>&1 &
  pids="$pids $!"
done
for i in $(seq 1 300); do
  if grep -q "A got over webrtc" %[2]s/node.log && grep -q "B got over webrtc" %[2]s/node.log; then break; fi
  sleep 0.1
done
sleep 0.5 # the pages' last lines: how their pairs connect
kill $pids 2>/dev/null || true
wait 2>/dev/null || true
`, bin, dir, chromium, app, mdns, strings.ReplaceAll(b.page, "%[1]s", "%s"))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "unshare", "-n", "sh", "-c", script).CombinedOutput()
	log, _ := os.ReadFile(filepath.Join(dir, "node.log"))
	if err != nil {
		t.Fatalf("namespace script: %v\n%s\nnode log:\n%s", err, out, log)
	}
	for _, line := range strings.Split(string(log), "\n") {
		if strings.Contains(line, "webrtc pair") {
			t.Log(line)
		}
	}
	return string(log)
}

// met fails the test unless both pages joined the node over WebSocket
// and got the other's hello over WebRTC.
func met(t *testing.T, log string) {
	t.Helper()
	for _, want := range []string{
		`"transport":"ws"`,
		`"line":"A got over webrtc: webrtc hello from B"`,
		`"line":"B got over webrtc: webrtc hello from A"`,
	} {
		if !strings.Contains(log, want) {
			t.Fatalf("node log lacks %s:\n%s", want, log)
		}
	}
}

// Two headless Chromium pages join a Go node over WebSocket and meet each
// other over WebRTC, introduced by it. The node's network is not the
// page's default and the URL does not name it: the page joins the serving
// node's network by itself. Chromium runs with its local addresses shown
// (mdns-off, as the lab's tests run it) and as it ships (mdns-on: its host
// candidates are name.local, which the other page resolves by multicast
// DNS on the namespace's link).
func TestTwoBrowsersMeetOverWebRTC(t *testing.T) {
	for _, mdns := range []bool{false, true} {
		t.Run(map[bool]string{false: "mdns-off", true: "mdns-on"}[mdns], func(t *testing.T) {
			met(t, browsers{page: "http://127.0.0.1:7300/?name=%[1]s&auto=1", mdns: mdns}.run(t))
		})
	}
}

// A web application served from its own origin (another port:
// http://127.0.0.1:7301, python3's http.server serving the page's files
// and its own network.js) bootstraps from a pex node on another
// (ws://127.0.0.1:7300/ws): the node takes WebSockets from pages of any
// origin. Chromium as it ships.
func TestBrowsersFromAnotherOrigin(t *testing.T) {
	app := t.TempDir()
	err := fs.WalkDir(Static(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			if d != nil && d.IsDir() {
				return os.MkdirAll(filepath.Join(app, path), 0o755)
			}
			return err
		}
		b, err := fs.ReadFile(Static(), path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(app, path), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "network.js"), []byte("window.PEX_NETWORK = \"browser-test-net\"\nwindow.PEX_ICE_SERVERS = []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	log := browsers{page: "http://127.0.0.1:7301/?name=%[1]s&auto=1&ws=ws://127.0.0.1:7300/ws", app: app, mdns: true}.run(t)
	met(t, log)
}
