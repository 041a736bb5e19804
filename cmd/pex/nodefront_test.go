package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/lab/testcert"
	"github.com/seed0021ed4d/pex/pxp"
	"github.com/seed0021ed4d/pex/transport/ws"
)

// joinWS opens a WebSocket to url with d and runs PXP's handshake over
// it; it returns the first line the node says, or the error.
func joinWS(t *testing.T, d *ws.Dialer, url, network string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := d.Dial(ctx, url)
	if err != nil {
		return "", err
	}
	ex, _ := pxp.New(network, nil)
	defer ex.Close()
	dc, err := ex.Connect(ctx, c)
	if err != nil {
		return "", err
	}
	line, err := bufio.NewReader(dc).ReadString('\n')
	return strings.TrimSpace(line), err
}

func origin(o string) *ws.Dialer { return &ws.Dialer{Header: http.Header{"Origin": {o}}} }

// A page of any origin joins a node over --ws and over --http's /ws; with
// --ws-origin, only the origins it names (and the node's own).
func TestNodeWebSocketOrigins(t *testing.T) {
	open, _ := startNode(t, "--network", "cli", "--ws", "127.0.0.1:0", "--http", "127.0.0.1:0", "--hello", "hi")
	wsAddr := open.wait(t, "listening", func(ev map[string]any) bool { return ev["transport"] == "ws" })["addr"].(string)
	httpAddr := open.wait(t, "listening", func(ev map[string]any) bool { return ev["transport"] == "http" })["addr"].(string)
	for _, url := range []string{"ws://" + wsAddr + "/", "ws://" + httpAddr + "/ws"} {
		if line, err := joinWS(t, origin("https://app.example.com"), url, "cli"); err != nil || line != "hi" {
			t.Fatalf("%s from https://app.example.com: %q, %v", url, line, err)
		}
	}
	closed, _ := startNode(t, "--network", "cli", "--http", "127.0.0.1:0", "--hello", "hi", "--ws-origin", "app.example.com", "--ws-origin", "https://*.example.org")
	addr := closed.wait(t, "listening", func(ev map[string]any) bool { return ev["transport"] == "http" })["addr"].(string)
	for o, want := range map[string]bool{
		"https://app.example.com": true, "http://" + addr: true, "https://a.example.org": true,
		"https://evil.example.com": false, "http://a.example.org": false,
	} {
		_, err := joinWS(t, origin(o), "ws://"+addr+"/ws", "cli")
		if (err == nil) != want {
			t.Errorf("origin %s: %v, want accepted %v", o, err, want)
		}
		if err != nil && !strings.Contains(err.Error(), "403") {
			t.Errorf("origin %s refused with %v, want 403", o, err)
		}
	}
}

// With --trusted-proxy, a WebSocket peer from the proxy is the client its
// X-Forwarded-For names; without it, the header is not believed.
func TestNodeTrustedProxy(t *testing.T) {
	xff := &ws.Dialer{Header: http.Header{"X-Forwarded-For": {"198.51.100.1, 203.0.113.9"}}}
	for _, tc := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--trusted-proxy", "127.0.0.1"}, "203.0.113.9:0"},
		{[]string{"--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "::1"}, "127.0.0.1:"},
		{nil, "127.0.0.1:"},
	} {
		n, stop := startNode(t, append([]string{"--network", "cli", "--ws", "127.0.0.1:0", "--hello", "hi"}, tc.flags...)...)
		addr := n.wait(t, "listening", nil)["addr"].(string)
		if _, err := joinWS(t, xff, "ws://"+addr+"/", "cli"); err != nil {
			t.Fatal(err)
		}
		ev := n.wait(t, "connect", nil)
		if r := ev["remote"].(string); !strings.HasPrefix(r, tc.want) {
			t.Errorf("%v: connect from %s, want %s", tc.flags, r, tc.want)
		}
		stop()
	}
}

// tlsDialer trusts ca, as a browser trusts a public CA.
func tlsDialer(ca *testcert.CA) *ws.Dialer {
	return &ws.Dialer{HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}}
}

// With --tls-cert and --tls-key, --http serves its page over HTTPS and
// WSS; a renewed certificate is served from the next handshake on.
func TestNodeTLS(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca := testcert.NewCA(t)
	first := ca.Issue(t, "127.0.0.1")
	first.Write(t, certPath, keyPath)
	n, _ := startNode(t, "--network", "cli", "--http", "127.0.0.1:0", "--ws", "127.0.0.1:0", "--hello", "hi", "--tls-cert", certPath, "--tls-key", keyPath)
	start := n.wait(t, "tls-certificate", nil)
	if start["reason"] != "start" || start["cert"] != certPath || start["not_after"] != first.NotAfter.UTC().Format(time.RFC3339) {
		t.Fatalf("tls-certificate %v", start)
	}
	httpAddr := n.wait(t, "listening", func(ev map[string]any) bool { return ev["transport"] == "http" && ev["tls"] == true })["addr"].(string)
	wsAddr := n.wait(t, "listening", func(ev map[string]any) bool { return ev["transport"] == "ws" && ev["tls"] == true })["addr"].(string)
	d := tlsDialer(ca)
	get := func() (body string, serial int64) {
		t.Helper()
		res, err := d.HTTPClient.Get("https://" + httpAddr + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b), res.TLS.PeerCertificates[0].SerialNumber.Int64()
	}
	if body, serial := get(); !strings.Contains(body, "pxp.js") || serial != first.Serial {
		t.Fatalf("page over HTTPS: serial %d, %.80q", serial, body)
	}
	for _, url := range []string{"wss://" + httpAddr + "/ws", "wss://" + wsAddr + "/"} {
		if line, err := joinWS(t, d, url, "cli"); err != nil || line != "hi" {
			t.Fatalf("%s: %q, %v", url, line, err)
		}
	}
	if _, err := joinWS(t, &ws.Dialer{}, "ws://"+wsAddr+"/", "cli"); err == nil {
		t.Fatal("plain ws:// accepted on a TLS port")
	}

	renewed := ca.Issue(t, "127.0.0.1")
	renewed.Write(t, certPath, keyPath)
	d.HTTPClient.CloseIdleConnections()
	if _, serial := get(); serial != renewed.Serial {
		t.Fatalf("after the renewal: serial %d, want %d", serial, renewed.Serial)
	}
	n.wait(t, "tls-certificate", func(ev map[string]any) bool { return ev["reason"] == "changed" })
}

func TestNodeFrontFlagRules(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca := testcert.NewCA(t)
	ca.Issue(t, "127.0.0.1").Write(t, certPath, keyPath)
	other := ca.Issue(t, "127.0.0.1")
	otherKey := filepath.Join(dir, "other.key")
	testcert.WriteFile(t, otherKey, other.KeyPEM, 0o600)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--http", "127.0.0.1:0", "--tls-cert", certPath}, "--tls-cert needs --tls-key"},
		{[]string{"--http", "127.0.0.1:0", "--tls-key", keyPath}, "--tls-key needs --tls-cert"},
		{[]string{"--listen", "127.0.0.1:0", "--tls-cert", certPath, "--tls-key", keyPath}, "--tls-cert needs --http or --ws"},
		{[]string{"--http", "127.0.0.1:0", "--tls-cert", certPath, "--tls-key", filepath.Join(dir, "nope")}, "--tls-key: stat " + filepath.Join(dir, "nope")},
		{[]string{"--http", "127.0.0.1:0", "--tls-cert", certPath, "--tls-key", otherKey}, "--tls-cert: " + certPath + " and " + otherKey + ": tls: private key does not match public key"},
		{[]string{"--listen", "127.0.0.1:0", "--trusted-proxy", "127.0.0.1"}, "--trusted-proxy needs --http or --ws"},
		{[]string{"--ws", "127.0.0.1:0", "--trusted-proxy", "localhost"}, `--trusted-proxy: want an address or a prefix such as 127.0.0.1 or 10.0.0.0/8, got "localhost"`},
		{[]string{"--ws", "127.0.0.1:0", "--trusted-proxy", "0.0.0.0/0"}, "--trusted-proxy: 0.0.0.0/0 trusts every address"},
		{[]string{"--ws", "127.0.0.1:0", "--trusted-proxy", "::/0"}, "--trusted-proxy: ::/0 trusts every address"},
		{[]string{"--listen", "127.0.0.1:0", "--ws-origin", "app.example.com"}, "--ws-origin needs --http or --ws"},
		{[]string{"--ws", "127.0.0.1:0", "--ws-origin", "[app"}, `--ws-origin: want a host pattern such as app.example.com, *.example.com or https://app.example.com, got "[app"`},
	} {
		var stderr strings.Builder
		if code := run(context.Background(), append([]string{"node", "--network", "x"}, c.args...), io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, stderr.String(), c.want)
		}
	}
	for _, args := range [][]string{
		{"--ws", "127.0.0.1:0", "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "fd00::/8", "--trusted-proxy", "::ffff:127.0.0.1", "--ws-origin", "*.example.com"},
		{"--http", "127.0.0.1:0", "--tls-cert", certPath, "--tls-key", keyPath},
	} {
		if code := run(context.Background(), append([]string{"node", "--network", "x", "--duration", "10ms"}, args...), io.Discard, io.Discard); code != 0 {
			t.Errorf("%v: exit %d", args, code)
		}
	}
}
