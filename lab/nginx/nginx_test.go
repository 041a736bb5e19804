package nginx

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seed0021ed4d/pex/lab/testcert"
	"github.com/seed0021ed4d/pex/pxp"
	"github.com/seed0021ed4d/pex/transport/ws"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// freeAddr is a loopback address with a port nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// PXP over WebSocket through nginx terminating TLS: with nginx trusted,
// the node sees each client at its own address (the clients connect from
// 127.0.0.2 and 127.0.0.3, nginx from 127.0.0.1), whatever X-Forwarded-For
// and Forwarded the client wrote itself; without, every client is nginx.
func TestWebSocketThroughNginx(t *testing.T) {
	for _, trusted := range []bool{true, false} {
		t.Run(fmt.Sprintf("trusted=%v", trusted), func(t *testing.T) {
			node, err := pxp.New("nginx-net", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer node.Close()
			seen := make(chan string, 4)
			h := &ws.Handler{Serve: func(c *ws.Conn) {
				go func() {
					dc, err := node.Accept(context.Background(), c)
					if err != nil {
						seen <- "error: " + err.Error()
						return
					}
					fmt.Fprintln(dc, "hi")
					seen <- dc.Peer().RemoteAddr().String()
				}()
			}}
			if trusted {
				h.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
			}
			up, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
			go srv.Serve(up)
			defer srv.Close()

			dir := t.TempDir()
			ca := testcert.NewCA(t)
			cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
			ca.Issue(t, "pex.test").Write(t, cert, key)
			front := freeAddr(t)
			Start(t, Config{Listen: front, ServerName: "pex.test", CertFile: cert, KeyFile: key, Upstream: up.Addr().String()}, nil)

			for _, from := range []string{"127.0.0.2", "127.0.0.3"} {
				local := &net.TCPAddr{IP: net.ParseIP(from)}
				tr := &http.Transport{
					TLSClientConfig: &tls.Config{RootCAs: ca.Pool()},
					DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
						d := net.Dialer{LocalAddr: local}
						return d.DialContext(ctx, network, front)
					},
				}
				defer tr.CloseIdleConnections()
				d := &ws.Dialer{HTTPClient: &http.Client{Transport: tr}, Header: http.Header{
					"X-Forwarded-For": {"6.6.6.6"}, "Forwarded": {"for=7.7.7.7"}}}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				c, err := d.Dial(ctx, "wss://pex.test/ws")
				if err != nil {
					cancel()
					t.Fatalf("through nginx from %s: %v", from, err)
				}
				client, _ := pxp.New("nginx-net", nil)
				dc, err := client.Connect(ctx, c)
				if err != nil {
					cancel()
					client.Close()
					t.Fatal(err)
				}
				line, _ := bufio.NewReader(dc).ReadString('\n')
				cancel()
				client.Close()
				remote := <-seen
				want := "127.0.0.1:" // nginx
				if trusted {
					want = from + ":0"
				}
				if line != "hi\n" || !strings.HasPrefix(remote, want) {
					t.Fatalf("client at %s: the node saw %s (said %q), want %s", from, remote, line, want)
				}
				t.Logf("client at %s, spoofing 6.6.6.6 and 7.7.7.7: the node saw %s", from, remote)
			}
		})
	}
}

// README.md and docs/operating.md show the configuration the tests run:
// the map in the http block, and the location in a server block (four
// spaces in), proxying a node's --http on 127.0.0.1:8080.
func TestDocsShowTheTestedConfig(t *testing.T) {
	loc := indent(strings.ReplaceAll(Location, "UPSTREAM", "127.0.0.1:8080"), "    ")
	for _, doc := range []string{"../../README.md", "../../docs/operating.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range map[string]string{"Upgrade": Upgrade, "Location": loc} {
			if !strings.Contains(string(b), want) {
				t.Errorf("%s does not show %s as the tests run it:\n%s", doc, name, want)
			}
		}
	}
}
