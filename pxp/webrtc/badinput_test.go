package webrtc

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func collect() (func(json.RawMessage) error, func() []string) {
	var mu sync.Mutex
	var got []string
	return func(b json.RawMessage) error {
			mu.Lock()
			got = append(got, string(b))
			mu.Unlock()
			return nil
		}, func() []string {
			mu.Lock()
			defer mu.Unlock()
			return append([]string(nil), got...)
		}
}

func TestBadSignals(t *testing.T) {
	up, err := New(&Config{Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, sig string }{
		{"not an object", `"offer"`},
		{"garbage SDP", `{"type":"offer","sdp":"this is not SDP"}`},
		{"empty", `{}`},
		{"answer to an answerer", `{"type":"answer","sdp":"v=0\r\n"}`},
		{"bad candidate after the description", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			send, _ := collect()
			s, err := up.Start(context.Background(), false, send)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if tc.sig == "" {
				// A real offer first, then a candidate that is not one.
				init, err := up.Start(context.Background(), true, func(b json.RawMessage) error {
					if strings.Contains(string(b), `"offer"`) {
						return s.Signal(b)
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				defer init.Close()
				tc.sig = `{"candidate":{"candidate":"candidate:garbage","sdpMLineIndex":0,"sdpMid":"0"}}`
			}
			if err := s.Signal(json.RawMessage(tc.sig)); err == nil {
				t.Fatalf("signal %s accepted", tc.sig)
			}
		})
	}
}

func TestCandidatesBeforeDescriptionBounded(t *testing.T) {
	up, _ := New(&Config{Loopback: true, MaxPendingCandidates: 3})
	send, _ := collect()
	s, _ := up.Start(context.Background(), false, send)
	defer s.Close()
	c := json.RawMessage(`{"candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMLineIndex":0,"sdpMid":"0"}}`)
	for i := 0; i < 3; i++ {
		if err := s.Signal(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Signal(c); err == nil {
		t.Fatal("a fourth early candidate was kept")
	}
}

// ICE that never completes: the answerer only learns an address it may not
// use (outside loopback), so the data channel never opens; Conn gives up at
// the deadline and the session is released.
func TestICENeverCompletes(t *testing.T) {
	up, _ := New(&Config{Loopback: true, Timeout: 500 * time.Millisecond})
	var offer json.RawMessage
	init, err := up.Start(context.Background(), true, func(b json.RawMessage) error {
		if strings.Contains(string(b), `"offer"`) {
			offer = b
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer init.Close()
	ans, _ := New(&Config{Loopback: true, Timeout: 500 * time.Millisecond})
	send, _ := collect()
	s, _ := ans.Start(context.Background(), false, send)
	// Strip the offer's own candidates, offer one on TEST-NET-1 instead.
	var sig signal
	json.Unmarshal(offer, &sig)
	var lines []string
	for _, l := range strings.Split(sig.SDP, "\r\n") {
		if !strings.HasPrefix(l, "a=candidate") {
			lines = append(lines, l)
		}
	}
	sig.SDP = strings.Join(lines, "\r\n")
	b, _ := json.Marshal(sig)
	if err := s.Signal(b); err != nil {
		t.Fatal(err)
	}
	s.Signal(json.RawMessage(`{"candidate":{"candidate":"candidate:1 1 udp 2130706431 192.0.2.1 9 typ host","sdpMLineIndex":0,"sdpMid":"0"}}`))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.Conn(ctx); err == nil || !strings.Contains(err.Error(), "not open") {
		t.Fatalf("got %v, want the data channel deadline", err)
	}
}

// A remote peer's candidates are capped per upgrade, and addresses no check
// may go to are dropped: a peer cannot aim this node's connectivity checks
// at a list of victims.
func TestRemoteCandidatesBounded(t *testing.T) {
	u, err := New(&Config{MaxRemoteCandidates: 3})
	if err != nil {
		t.Fatal(err)
	}
	s := &session{u: u, budget: newCheckBudget(nil)}
	var sdp strings.Builder
	sdp.WriteString("v=0\r\n")
	for i := range 10 {
		fmt.Fprintf(&sdp, "a=candidate:%d 1 udp 2130706431 192.0.2.%d 4000 typ host\r\n", i, i+1)
	}
	got := s.trimCandidates(sdp.String())
	if n := strings.Count(got, "a=candidate:"); n != 3 {
		t.Fatalf("%d candidates kept of 10 in the description, want 3", n)
	}
	if s.takeCandidate("candidate:9 1 udp 1 192.0.2.99 4000 typ host") {
		t.Fatal("a trickled candidate past the budget was taken")
	}
	for _, bad := range []string{
		"candidate:1 1 udp 1 0.0.0.0 4000 typ host",
		"candidate:1 1 udp 1 224.0.0.1 4000 typ host",
		"candidate:1 1 udp 1 255.255.255.255 4000 typ host",
		"candidate:1 1 udp 1 192.0.2.1 0 typ host",
		"candidate:1 1",
	} {
		if usableCandidate(bad) {
			t.Errorf("took %q", bad)
		}
	}
	if !usableCandidate("candidate:1 1 udp 1 abcd.local 4000 typ host") {
		t.Error("an mDNS host candidate was dropped")
	}
}
