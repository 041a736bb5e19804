package examples_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seed0021ed4d/pex/bt/swarm"
	"github.com/seed0021ed4d/pex/pxp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// build compiles examples/name into a temporary directory.
func build(t *testing.T, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command("go", "build", "-o", bin, "./"+name).CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, out)
	}
	return bin
}

// README.md shows every example program whole, after a marker line
// "<!-- example examples/NAME/main.go -->".
func TestREADMEShowsTheExamples(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"pxp", "btswarm"} {
		src, err := os.ReadFile(filepath.Join(name, "main.go"))
		if err != nil {
			t.Fatal(err)
		}
		block := "<!-- example examples/" + name + "/main.go -->\n```go\n" + string(src) + "```\n"
		if !strings.Contains(string(readme), block) {
			t.Errorf("README.md does not show examples/%s/main.go as it is (after its marker, in a go block)", name)
		}
	}
}

// The PXP example joins through a hub, trades a line with it, meets the
// hub's other peer with GetNewPeer and trades a line with that one too.
func TestPXPExample(t *testing.T) {
	bin := build(t, "pxp")
	hub, err := pxp.New("my-app", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reply := func(text string) func(*pxp.Conn) {
		return func(c *pxp.Conn) {
			defer c.Close()
			fmt.Fprintln(c, text)
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			bufio.NewReader(c).ReadString('\n')
		}
	}
	go hub.Serve(ln)
	go func() {
		for c := range hub.Incoming() {
			go reply("hi from the hub")(c)
		}
	}()
	other, err := pxp.New("my-app", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := other.Connect(ctx, nc); err != nil {
		t.Fatal(err)
	}
	go func() {
		for c := range other.Incoming() {
			go reply("hi from the other")(c)
		}
	}()
	out, err := exec.CommandContext(ctx, bin, "-connect", ln.Addr().String()).Output()
	if err != nil {
		t.Fatalf("example: %v\n%s", err, out)
	}
	for _, want := range []string{
		hub.ID() + ` said "hi from the hub\n"`,
		"met " + other.ID() + " over relay",
		other.ID() + ` said "hi from the other\n"`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("example output lacks %q:\n%s", want, out)
		}
	}
}

// The BitTorrent example connects to the swarm's peer it is given.
func TestBTSwarmExample(t *testing.T) {
	bin := build(t, "btswarm")
	ih := [20]byte{0xe4, 0x01}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := swarm.New(ih, &swarm.Config{ListenPort: ln.Addr().(*net.TCPAddr).Port})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	go s.Serve(ln)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-infohash", fmt.Sprintf("%x", ih), "-peer", ln.Addr().String(), "-duration", "2s").CombinedOutput()
	if err != nil {
		t.Fatalf("example: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "connected "+ln.Addr().String()) {
		t.Fatalf("example did not connect:\n%s", out)
	}
}
