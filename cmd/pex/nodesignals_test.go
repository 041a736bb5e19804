package main

import (
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed0021ed4d/pex/lab/testcert"
)

// A node run as a service: SIGHUP re-reads its certificate and key,
// SIGTERM closes its links, saves --state and exits 0, and a SIGHUP while
// it runs ends nothing.
func TestBinaryNodeSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildPex(t)
	a, _ := startNode(t, "--network", "svc", "--listen", "127.0.0.1:0")
	aAddr := a.wait(t, "listening", nil)["addr"].(string)

	dir := t.TempDir()
	certPath, keyPath, state := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "state")
	ca := testcert.NewCA(t)
	first := ca.Issue(t, "127.0.0.1")
	first.Write(t, certPath, keyPath)
	cmd := exec.Command(bin, "node", "--network", "svc", "--connect", aAddr, "--http", "127.0.0.1:0",
		"--tls-cert", certPath, "--tls-key", keyPath, "--state", state, "--json")
	out := newLines()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited, done := make(chan error, 1), make(chan struct{})
	go func() { exited <- cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill() // the process this test started, by its id
		<-done
	})
	httpAddr := out.wait(t, "listening", func(ev map[string]any) bool { return ev["transport"] == "http" })["addr"].(string)
	out.wait(t, "connect", func(ev map[string]any) bool { return ev["remote"] == aAddr })
	serial := func() string {
		c, err := tls.Dial("tcp", httpAddr, &tls.Config{RootCAs: ca.Pool()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.Text(16)
	}
	if got := serial(); got != fmt.Sprintf("%x", first.Serial) {
		t.Fatalf("serial %s, want %x", got, first.Serial)
	}

	renewed := ca.Issue(t, "127.0.0.1")
	renewed.Write(t, certPath, keyPath)
	cmd.Process.Signal(syscall.SIGHUP)
	out.wait(t, "sighup", nil)
	ev := out.wait(t, "tls-certificate", func(ev map[string]any) bool { return ev["reason"] == "sighup" })
	if ev["serial"] != fmt.Sprintf("%x", renewed.Serial) {
		t.Fatalf("after SIGHUP: %v, want serial %x", ev, renewed.Serial)
	}
	if got := serial(); got != fmt.Sprintf("%x", renewed.Serial) {
		t.Fatalf("after SIGHUP: serial %s, want %x", got, renewed.Serial)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	// Not a measure of speed: a node that hangs instead of exiting
	// fails here rather than holding the suite up.
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("pex exited with %v", err)
		}
	case <-time.After(shutdownGrace + time.Minute):
		t.Fatalf("pex did not exit after SIGTERM; its events: %v", out.evs)
	}
	if n := out.count("shutdown-slow"); n != 0 {
		t.Fatalf("shutdown waited out its grace period")
	}
	saved := out.wait(t, "state-saved", nil)
	sum := out.wait(t, "summary", nil)
	if saved["peers"] != 1.0 || sum["stop"] != "signal" || sum["signal"] != "terminated" {
		t.Fatalf("state-saved %v, summary %v", saved, sum)
	}
	b, err := os.ReadFile(filepath.Join(state, "pxp-peers.json"))
	if err != nil || !strings.Contains(string(b), aAddr) {
		t.Fatalf("--state holds %q (%v), want %s", b, err, aAddr)
	}
	a.wait(t, "disconnect", func(ev map[string]any) bool { return ev["reason"] == nil })
}

// waitFor gives up after its bound, on virtual time.
func TestWaitFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		never := make(chan struct{})
		start := time.Now()
		if waitFor(never, shutdownGrace) || time.Since(start) != shutdownGrace {
			t.Fatalf("waitFor returned after %v", time.Since(start))
		}
		done := make(chan struct{})
		time.AfterFunc(time.Second, func() { close(done) })
		if !waitFor(done, shutdownGrace) || time.Since(start) != shutdownGrace+time.Second {
			t.Fatal("waitFor missed done")
		}
	})
}
