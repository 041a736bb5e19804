package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"

	"github.com/seed0021ed4d/pex/pxp"
	"github.com/seed0021ed4d/pex/transport/ws"
)

func TestNodeCommand(t *testing.T) {
	a, stopA := startNode(t, "--network", "cli", "--listen", "127.0.0.1:0", "--hello", "hi from a")
	addr := a.wait(t, "listening", nil)["addr"].(string)
	c, _ := startNode(t, "--network", "cli", "--connect", addr, "--hello", "hi from c", "--echo", "--ice-loopback")
	c.wait(t, "connect", func(ev map[string]any) bool { return ev["transport"] == "tcp" })
	b, _ := startNode(t, "--network", "cli", "--connect", addr, "--want", "2", "--hello", "hi from b", "--ice-loopback")
	gnp := b.wait(t, "getnewpeer", nil)
	if gnp["transport"] != "webrtc" || gnp["latency_ms"].(float64) <= 0 || gnp["candidate"] != "host" {
		t.Fatalf("getnewpeer event %v", gnp)
	}
	b.wait(t, "connect", func(ev map[string]any) bool { return ev["transport"] == "webrtc" })
	c.wait(t, "connect", func(ev map[string]any) bool { return ev["transport"] == "webrtc" })
	b.wait(t, "data", func(ev map[string]any) bool { return ev["line"] == "hi from c" })
	b.wait(t, "data", func(ev map[string]any) bool { return ev["line"] == "echo:hi from b" })
	c.wait(t, "data", func(ev map[string]any) bool { return ev["line"] == "hi from b" })
	b.wait(t, "data", func(ev map[string]any) bool { return ev["line"] == "hi from a" })
	// Stopping a: b and c report the disconnect and keep their link.
	if code := stopA(); code != 0 {
		t.Fatalf("node a exited %d", code)
	}
	b.wait(t, "disconnect", func(ev map[string]any) bool { return ev["transport"] == "tcp" })
}

// The built binary closes its links cleanly on SIGTERM and SIGINT.
func TestSignalsCloseLinks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildPex(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(bin, "node", "--network", "sig", "--listen", "127.0.0.1:0", "--json")
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(stdout)
			var addr string
			for sc.Scan() {
				var ev map[string]any
				json.Unmarshal(sc.Bytes(), &ev)
				if ev["event"] == "listening" {
					addr = ev["addr"].(string)
					break
				}
			}
			go io.Copy(io.Discard, stdout)
			ex, _ := pxp.New("sig", nil)
			defer ex.Close()
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := ex.Connect(context.Background(), nc)
			if err != nil {
				t.Fatal(err)
			}
			cmd.Process.Signal(sig)
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.Copy(io.Discard, conn); err != nil {
				t.Fatalf("data stream did not end cleanly: %v", err)
			}
			select {
			case <-conn.Peer().Done():
			case <-time.After(10 * time.Second):
				t.Fatal("link not closed")
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("pex exited with %v", err)
			}
		})
	}
}

// A node that listens on an IP advertises it, and a Go requester dials it
// directly instead of going through the relay.
func TestNodeDirectDial(t *testing.T) {
	a, _ := startNode(t, "--network", "cli", "--listen", "127.0.0.1:0", "--no-webrtc")
	addr := a.wait(t, "listening", nil)["addr"].(string)
	c, _ := startNode(t, "--network", "cli", "--listen", "127.0.0.1:0", "--connect", addr, "--hello", "hi from c", "--no-webrtc")
	c.wait(t, "connect", nil)
	b, _ := startNode(t, "--network", "cli", "--connect", addr, "--want", "2", "--no-webrtc")
	gnp := b.wait(t, "getnewpeer", nil)
	if gnp["transport"] != "tcp" {
		t.Fatalf("getnewpeer event %v, want a direct tcp link", gnp)
	}
	b.wait(t, "data", func(ev map[string]any) bool { return ev["line"] == "hi from c" })
}

// pex node --ws takes PXP peers over WebSocket.
func TestNodeWebSocket(t *testing.T) {
	a, _ := startNode(t, "--network", "cli", "--ws", "127.0.0.1:0", "--hello", "hi over ws")
	addr := a.wait(t, "listening", func(ev map[string]any) bool { return ev["transport"] == "ws" })["addr"].(string)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ws.Dial(ctx, "ws://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	ex, _ := pxp.New("cli", nil)
	defer ex.Close()
	dc, err := ex.Connect(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(dc).ReadString('\n')
	if line != "hi over ws\n" {
		t.Fatalf("got %q", line)
	}
	a.wait(t, "connect", func(ev map[string]any) bool { return ev["transport"] == "ws" })
}

// A source repeating one failure is printed a few times, then summed up in
// one suppressed event: a hello flood cannot fill the log.
func TestRepeatedErrorsSummarised(t *testing.T) {
	var out strings.Builder
	pr := cli.NewPrinter(&out, true)
	for i := range 1000 {
		pr.Limited("10.0.0.1 "+cli.ErrorKind(fmt.Errorf("pxp: refused getpeers %d", i)), "error", "error", fmt.Sprint("refused getpeers ", i), "remote", "10.0.0.1:1")
	}
	pr.Limited("10.0.0.2 x", "error", "error", "other source")
	pr.Flush(true)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != cli.RepeatMax+2 {
		t.Fatalf("%d lines for 1000 repeats and one other, want %d:\n%s", len(lines), cli.RepeatMax+2, out.String())
	}
	if !strings.Contains(out.String(), `"event":"suppressed"`) || !strings.Contains(out.String(), `"count":995`) {
		t.Fatalf("no summary of 995 left out:\n%s", out.String())
	}
}

// A --connect peer that is not up yet is dialed again with backoff until
// it is; the events name both nodes by id.
func TestNodeBootstrapRetried(t *testing.T) {
	addr := closedPort(t)
	b, _ := startNode(t, "--network", "cli", "--connect", addr)
	df := b.wait(t, "dial-failed", nil)
	if df["remote"] != addr || df["retry_s"].(float64) != 1 || df["reason"] == "" {
		t.Fatalf("dial-failed event %v", df)
	}
	a, _ := startNode(t, "--network", "cli", "--listen", addr)
	aID := a.wait(t, "listening", nil)["node"].(string)
	if len(aID) != 16 {
		t.Fatalf("listening names no node id: %v", a.evs)
	}
	ev := b.wait(t, "connect", func(ev map[string]any) bool { return ev["peer"] == aID })
	if ev["remote"] != addr {
		t.Fatalf("connect event %v", ev)
	}
	bID := b.wait(t, "started", nil)["node"].(string)
	a.wait(t, "connect", func(ev map[string]any) bool { return ev["peer"] == bID })
}

// A node that reaches none of its --connect peers by --bootstrap-timeout
// or --duration exits 1 with the reason; a handshake failed for a
// mismatched network is one network-mismatch event on each side (side
// outgoing on the dialing one, incoming on the other), and not tried
// again.
func TestNodeBootstrapDeadline(t *testing.T) {
	for _, deadline := range [][]string{{"--bootstrap-timeout", "1500ms"}, {"--duration", "1500ms"}} {
		var errOut strings.Builder
		code := run(context.Background(), append([]string{"node", "--network", "cli", "--connect", closedPort(t)}, deadline...), io.Discard, &errOut)
		if code != 1 || !strings.Contains(errOut.String(), "no --connect peer reached within "+deadline[0]) || !strings.Contains(errOut.String(), "connection refused") {
			t.Fatalf("%v: exit %d, %q", deadline, code, errOut.String())
		}
	}
	a, _ := startNode(t, "--network", "one", "--listen", "127.0.0.1:0")
	addr := a.wait(t, "listening", nil)["addr"].(string)
	b := newLines()
	if code := run(context.Background(), []string{"node", "--json", "--network", "other", "--connect", addr, "--bootstrap-timeout", "2500ms"}, b, io.Discard); code != 1 {
		t.Fatalf("a node of another network: exit %d", code)
	}
	tries := b.count("network-mismatch")
	// a reports the failure as it sees it: wait (bounded) for it.
	a.waitUntil(10*time.Second, func() bool { return a.countLocked("network-mismatch") >= tries })
	if tries != 1 || b.count("dial-failed") != 0 || a.count("network-mismatch") != tries || a.count("error") != 0 || b.count("error") != 0 {
		t.Fatalf("%d failed dials: %d network-mismatch and %d error events at the listener, %d errors at the dialer; want one network-mismatch each",
			tries, a.count("network-mismatch"), a.count("error"), b.count("error"))
	}
}

// A peer of another network that connects to a node, again and again
// (a --connect node restarted by its supervisor, or one that retries), is
// one network-mismatch event (side incoming, the remote address and both
// networks) at the node it connects to; its repeats are counted, summed
// up in a suppressed event, not printed as errors.
func TestNodeIncomingNetworkMismatch(t *testing.T) {
	a, stop := startNode(t, "--network", "one", "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--no-webrtc")
	addr := a.wait(t, "listening", func(ev map[string]any) bool { return ev["transport"] == "tcp" })["addr"].(string)
	metricsAddr := a.wait(t, "listening", func(ev map[string]any) bool { return ev["transport"] == "metrics" })["addr"].(string)
	const tries = 3
	for range tries {
		var errOut strings.Builder
		if code := run(context.Background(), []string{"node", "--network", "two", "--no-webrtc", "--connect", addr}, io.Discard, &errOut); code != 1 ||
			!strings.Contains(errOut.String(), addr+` is on network "one", this node on "two"`) {
			t.Fatalf("the node of another network: exit %d, %q", code, errOut.String())
		}
	}
	// The listener counts each refused link before it reports it: once
	// its count is in, every report is on its way to the event loop.
	deadline := time.Now().Add(10 * time.Second)
	for protocolErrors(t, metricsAddr, "network") < tries {
		if time.Now().After(deadline) {
			t.Fatalf("the listener counted %v network mismatches, want %d", protocolErrors(t, metricsAddr, "network"), tries)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code := stop(); code != 0 {
		t.Fatalf("the listener: exit %d", code)
	}
	if n := a.count("network-mismatch"); n != 1 || a.count("error") != 0 {
		t.Fatalf("%d network-mismatch and %d error events for %d links of another network; want 1 and 0: %v", n, a.count("error"), tries, a.evs)
	}
	ev := a.wait(t, "network-mismatch", nil)
	remote, _ := ev["remote"].(string)
	if ev["side"] != "incoming" || cli.HostOf(remote) != "127.0.0.1" || ev["network"] != "one" || fmt.Sprint(ev["their_networks"]) != "[two]" || ev["transport"] != "tcp" ||
		!strings.Contains(fmt.Sprint(ev["reason"]), `is on network "two", this node on "one"`) {
		t.Fatalf("network-mismatch %v", ev)
	}
	sup := a.wait(t, "suppressed", func(ev map[string]any) bool { return ev["of"] == "network-mismatch" })
	if sup["count"] != float64(tries-1) || sup["side"] != "incoming" || a.count("suppressed") != 1 {
		t.Fatalf("suppressed %v; want a count of %d", sup, tries-1)
	}
}

// protocolErrors is the node's pex_pxp_protocol_errors_total of kind, as
// its --metrics at addr serves it.
func protocolErrors(t *testing.T, addr, kind string) float64 {
	t.Helper()
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range fams["pex_pxp_protocol_errors_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "kind" && l.GetValue() == kind {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// A --connect peer of another network is not dialed again: the node says
// so once, and, when no other --connect peer can be reached, exits 1 by
// itself naming both networks. One that reaches another peer stays.
func TestNodeNetworkMismatch(t *testing.T) {
	a, _ := startNode(t, "--network", "one", "--listen", "127.0.0.1:0", "--no-webrtc")
	addr := a.wait(t, "listening", nil)["addr"].(string)
	for _, connect := range [][]string{{addr}, {addr, closedPort(t)}} {
		args := []string{"node", "--json", "--network", "other", "--no-webrtc"}
		for _, c := range connect {
			args = append(args, "--connect", c)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		b := newLines()
		var errOut strings.Builder
		start := time.Now()
		code := run(ctx, args, b, &errOut)
		cancel()
		if code != 1 || time.Since(start) > 15*time.Second ||
			!strings.Contains(errOut.String(), "no --connect peer reached: "+addr+` is on network "one", this node on "other"`) {
			t.Fatalf("%v: exit %d after %v, %q", connect, code, time.Since(start), errOut.String())
		}
		ev := b.wait(t, "network-mismatch", nil)
		if b.count("network-mismatch") != 1 || ev["remote"] != addr || ev["network"] != "other" || fmt.Sprint(ev["their_networks"]) != "[one]" || ev["retry"] != false {
			t.Fatalf("%v: network-mismatch events %v", connect, b.evs)
		}
		if sum := b.wait(t, "summary", nil); sum["stop"] != "network-mismatch" {
			t.Fatalf("summary %v", sum)
		}
	}
	// With a peer of its own network among its --connect, it stays.
	good, _ := startNode(t, "--network", "other", "--listen", "127.0.0.1:0", "--no-webrtc")
	goodAddr := good.wait(t, "listening", nil)["addr"].(string)
	b, stop := startNode(t, "--network", "other", "--connect", addr, "--connect", goodAddr, "--no-webrtc")
	b.wait(t, "network-mismatch", nil)
	b.wait(t, "connect", func(ev map[string]any) bool { return ev["remote"] == goodAddr })
	time.Sleep(1500 * time.Millisecond)
	if b.count("summary") != 0 || b.count("network-mismatch") != 1 || stop() != 0 {
		t.Fatalf("a node with a good --connect peer: %v", b.evs)
	}
}

// A --want no peer can meet is one want-unmet event (have, want, why),
// not an error each try.
func TestNodeWantUnmet(t *testing.T) {
	a, _ := startNode(t, "--network", "cli", "--listen", "127.0.0.1:0", "--no-webrtc")
	addr := a.wait(t, "listening", nil)["addr"].(string)
	b, _ := startNode(t, "--network", "cli", "--connect", addr, "--want", "3", "--no-webrtc")
	ev := b.wait(t, "want-unmet", nil)
	if ev["have"] != 1.0 || ev["want"] != 3.0 || ev["reason"] == "" || ev["error"] == "" {
		t.Fatalf("want-unmet %v", ev)
	}
	time.Sleep(4 * time.Second) // GetNewPeer is tried again after 0.25, 0.5, 1 and 2 s
	if b.count("want-unmet") != 1 || b.count("error") != 0 {
		t.Fatalf("want-unmet %d times, error %d times: %v", b.count("want-unmet"), b.count("error"), b.evs)
	}
}
