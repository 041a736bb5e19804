package pxp

import (
	"bytes"
	"context"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/seed0021ed4d/pex/lab/memnet"
)

// teeConn records each write on its transport, as hex, one a line.
type teeConn struct {
	net.Conn
	mu    sync.Mutex
	lines []string
}

func (t *teeConn) Write(b []byte) (int, error) {
	t.mu.Lock()
	t.lines = append(t.lines, hex.EncodeToString(b))
	t.mu.Unlock()
	return t.Conn.Write(b)
}

func (t *teeConn) transcript(ids ...string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.Join(t.lines, "\n") + "\n"
	// The nodes' ids are random: each is replaced by a mask of its length.
	for i, id := range ids {
		s = strings.ReplaceAll(s, hex.EncodeToString([]byte(id)), hex.EncodeToString(bytes.Repeat([]byte{'A' + byte(i)}, len(id))))
	}
	return s
}

// A keyless network is byte for byte what it was before network keys
// existed: the bytes each side of a link writes, write by write (a
// handshake, a line each way on the data stream, a getpeers, a close),
// equal the transcript recorded from the code before Config.NetworkKey
// (testdata/keyless-*.hex, the nodes' random ids masked), and their
// magic, stream openings and connect request are those of the capture
// between JS nodes (docs/pxp-capture.txt). PEX_UPDATE_GOLDEN=1 writes
// the transcripts anew.
func TestKeylessWireUnchanged(t *testing.T) {
	a := newExchange(t, nil)
	b := newExchange(t, nil)
	ra, rb := memnet.Pipe("a", "b")
	ta, tb := &teeConn{Conn: ra}, &teeConn{Conn: rb}
	var bc *Conn
	done := make(chan error, 1)
	go func() {
		var err error
		bc, err = b.Accept(context.Background(), tb)
		done <- err
	}()
	ac, err := a.Connect(context.Background(), ta)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	writeLine(t, ac, "ping")
	if got := readLine(t, bc); got != "ping" {
		t.Fatalf("got %q", got)
	}
	writeLine(t, bc, "pong")
	if got := readLine(t, ac); got != "pong" {
		t.Fatalf("got %q", got)
	}
	if _, err := ac.Peer().GetPeers(context.Background()); err != nil {
		t.Fatal(err)
	}
	ac.Peer().Close()
	<-bc.Peer().Done()

	captured := map[string]string{
		"magic":        "2350585023",
		"open pxp":     "0003707870",
		"open data":    "080d646174613a7078702d6d657368",
		"connect (A)":  "021b5b22636f6e6e656374222c2231222c227078702d6d657368225d0a",
		"res null (B)": "02115b22726573222c2231222c6e756c6c5d0a",
	}
	ids := []string{a.ID(), b.ID()}
	for _, side := range []struct {
		name string
		tee  *teeConn
	}{{"a", ta}, {"b", tb}} {
		got := side.tee.transcript(ids...)
		path := filepath.Join("testdata", "keyless-"+side.name+".hex")
		if os.Getenv("PEX_UPDATE_GOLDEN") != "" {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("side %s wrote other bytes than before network keys:\ngot\n%s\nwant\n%s", side.name, got, want)
		}
		if !strings.HasPrefix(got, captured["magic"]+"\n"+captured["open pxp"]) {
			t.Errorf("side %s does not open as the capture does: %.40s", side.name, got)
		}
		for what, hx := range captured {
			if strings.HasSuffix(what, ")") && !strings.HasSuffix(what, "("+strings.ToUpper(side.name)+")") {
				continue
			}
			if !strings.Contains(got, hx) {
				t.Errorf("side %s: no %s as captured (%s)", side.name, what, hx)
			}
		}
	}
}
