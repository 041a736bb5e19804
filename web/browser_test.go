package web

import (
	"context"
	"fmt"
	"io"
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

// Two headless Chromium pages join a Go node over WebSocket and meet each
// other over WebRTC, introduced by it. The node's network is not the
// page's default and the URL does not name it: the page joins the serving
// node's network by itself. Everything runs in a private network
// namespace made for the test: Chromium gathers no loopback candidates, so
// the namespace gets a veth pair with a private address of its own, and no
// packet leaves it.
func TestTwoBrowsersMeetOverWebRTC(t *testing.T) {
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
	script := fmt.Sprintf(`set -e
ip link set lo up
ip link add pv0 type veth peer name pv1
ip addr add 10.77.0.1/24 dev pv0
ip link set pv0 up
ip link set pv1 up
ip route add default dev pv0
%[1]s node --network browser-test-net --http 127.0.0.1:7300 --json > %[2]s/node.log 2>&1 &
node=$!
for i in $(seq 1 50); do grep -q listening %[2]s/node.log && break; sleep 0.1; done
pids=""
for n in A B; do
  timeout 40 %[3]s --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --disable-quic \
    --user-data-dir=%[2]s/profile-$n --disable-features=WebRtcHideLocalIpsWithMdns \
    "http://127.0.0.1:7300/?name=$n&auto=1" > %[2]s/chromium-$n.log 2>&1 &
  pids="$pids $!"
done
for i in $(seq 1 300); do
  if grep -q "A got over webrtc" %[2]s/node.log && grep -q "B got over webrtc" %[2]s/node.log; then break; fi
  sleep 0.1
done
kill $pids $node 2>/dev/null || true
wait 2>/dev/null || true
`, bin, dir, chromium)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "unshare", "-n", "sh", "-c", script).CombinedOutput()
	log, _ := os.ReadFile(filepath.Join(dir, "node.log"))
	if err != nil {
		t.Fatalf("namespace script: %v\n%s\nnode log:\n%s", err, out, log)
	}
	for _, want := range []string{
		`"transport":"ws"`,
		`"line":"A got over webrtc: webrtc hello from B"`,
		`"line":"B got over webrtc: webrtc hello from A"`,
	} {
		if !strings.Contains(string(log), want) {
			t.Fatalf("node log lacks %s:\n%s", want, log)
		}
	}
}
