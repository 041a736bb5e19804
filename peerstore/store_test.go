package peerstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func open(t *testing.T, path string, cfg *Config) *Store {
	t.Helper()
	s, err := Open(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRoundTripAndOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peers.json")
	c := &clock{time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	s := open(t, path, &Config{Now: c.now})
	s.Success("bt:aa", "10.0.0.1:1", "tracker")
	c.t = c.t.Add(time.Minute)
	s.Success("bt:aa", "10.0.0.2:2", "pex")
	s.Success("bt:aa", "10.0.0.3:3", "pex")
	s.Failure("bt:aa", "10.0.0.3:3")
	s.Failure("bt:aa", "10.0.0.9:9") // unknown: not added
	s.Success("pxp:chat", "127.0.0.1:7000", "connect")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path, &Config{Now: c.now})
	defer s.Close()
	got := s.Peers("bt:aa")
	var addrs []string
	for _, p := range got {
		addrs = append(addrs, p.Addr)
	}
	if strings.Join(addrs, " ") != "10.0.0.2:2 10.0.0.1:1 10.0.0.3:3" {
		t.Fatalf("order %v", addrs)
	}
	if p := got[0]; p.Source != "pex" || p.Successes != 1 || !p.LastSeen.Equal(c.t) {
		t.Fatalf("peer %+v", p)
	}
	if got[2].Failures != 1 || len(s.Peers("pxp:chat")) != 1 || len(s.Peers("nope")) != 0 {
		t.Fatalf("peers %+v", got)
	}
}

func TestBounds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peers.json")
	c := &clock{time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	s := open(t, path, &Config{Now: c.now, MaxPeers: 10, MaxScopes: 3, MaxAge: time.Hour, MaxFailures: 2})
	defer s.Close()
	for i := range 25 {
		c.t = c.t.Add(time.Second)
		s.Success("a", fmt.Sprintf("10.0.0.%d:1", i), "tracker")
	}
	ps := s.Peers("a")
	if len(ps) != 10 || ps[0].Addr != "10.0.0.24:1" || ps[9].Addr != "10.0.0.15:1" {
		t.Fatalf("kept %d peers, first %v last %v: want the 10 newest", len(ps), ps[0].Addr, ps[len(ps)-1].Addr)
	}
	s.Failure("a", "10.0.0.24:1")
	s.Failure("a", "10.0.0.24:1")
	if len(s.Peers("a")) != 9 {
		t.Fatal("a peer that failed MaxFailures times in a row is kept")
	}
	for _, name := range []string{"b", "c", "d"} {
		c.t = c.t.Add(time.Second)
		s.Success(name, "10.0.0.1:1", "tracker")
	}
	if len(s.Peers("a")) != 0 || len(s.Peers("d")) != 1 {
		t.Fatal("the least recently seen scope is kept past MaxScopes")
	}
	c.t = c.t.Add(2 * time.Hour)
	if len(s.Peers("d")) != 0 {
		t.Fatal("a peer older than MaxAge is kept")
	}
}

func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "peers.json")
	os.WriteFile(path, []byte(`{"version": 1, "scopes": {"a": [{"addr": "x:1"`), 0o644)
	if _, err := Open(path, nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a truncated file: %v, want ErrCorrupt", err)
	}
	// Not a store: each is ErrCorrupt, which a caller may move aside.
	for _, bad := range []string{"", "garbage", "[1, 2]", "{}", "null"} {
		os.WriteFile(path, []byte(bad), 0o644)
		if _, err := Open(path, nil); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%q: %v, want ErrCorrupt", bad, err)
		}
	}
	if err := os.Truncate(path, MaxFileSize+1); err != nil { // sparse: no 64 MiB written
		t.Fatal(err)
	}
	if _, err := Open(path, nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a file over MaxFileSize: %v, want ErrCorrupt", err)
	}
	os.WriteFile(path, []byte(`{"version": 2}`), 0o644)
	if _, err := Open(path, nil); err == nil || !strings.Contains(err.Error(), "version") || errors.Is(err, ErrCorrupt) {
		t.Fatalf("another version: %v (an error of its own, not ErrCorrupt)", err)
	}
	os.WriteFile(path, []byte(`{"version": 1, "future": true, "scopes": {"a": [{"addr": "10.0.0.1:1", "last_seen": "2999-01-01T00:00:00Z", "x": 1}]}}`), 0o644)
	s := open(t, path, nil)
	if len(s.Peers("a")) != 1 {
		t.Fatal("unknown keys were not ignored")
	}
	if _, err := Open(path, nil); !errors.Is(err, ErrLocked) {
		t.Fatalf("a second Open: %v, want ErrLocked", err)
	}
	s.Close()
	if err := s.Save(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Save after Close: %v", err)
	}
	s = open(t, path, nil)
	s.Close()
}

// Replace sets a scope whole: what it drops is forgotten, what it keeps
// keeps its record, and an unchanged set is not written again.
func TestReplace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peers.json")
	c := &clock{time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	s := open(t, path, &Config{Now: c.now})
	s.Replace("anchors:pxp:chat", []string{"10.0.0.1:1", "10.0.0.2:2"}, "anchor")
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(time.Hour)
	s.Replace("anchors:pxp:chat", []string{"10.0.0.2:2", "10.0.0.3:3"}, "anchor")
	got := s.Peers("anchors:pxp:chat")
	if len(got) != 2 || got[0].Addr != "10.0.0.3:3" || got[1].Addr != "10.0.0.2:2" || !got[1].FirstSeen.Equal(c.t.Add(-time.Hour)) {
		t.Fatalf("after a replace: %+v", got)
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	c.t = c.t.Add(time.Hour)
	s.Replace("anchors:pxp:chat", []string{"10.0.0.3:3", "10.0.0.2:2"}, "anchor")
	if s.dirty {
		t.Fatal("an unchanged set marked the store for writing")
	}
	s.Replace("anchors:pxp:chat", nil, "anchor")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st2, _ := os.Stat(path); st2.ModTime().Equal(st.ModTime()) && st2.Size() == st.Size() {
		t.Fatal("removing the scope was not written")
	}
	s = open(t, path, &Config{Now: c.now})
	defer s.Close()
	if got := s.Peers("anchors:pxp:chat"); len(got) != 0 {
		t.Fatalf("an emptied scope holds %+v", got)
	}
}
