package attack

import (
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/seed0021ed4d/pex/mux"
)

// ICE reflection: a peer introduces itself through the node as a relay
// would, offers a WebRTC upgrade and names victims' UDP ports as its
// candidates. The node checks at most MaxRemoteCandidates of them, and
// what it sends to candidates that never answer is bounded by the bytes of
// the attacker's signals: the attacker gets less out than it puts in.
func TestPXPICEReflection(t *testing.T) {
	// The candidates trickled after a real offer: more than the cap.
	r := iceReflection(t, false)
	t.Logf("offer + 30 trickled candidates: %d victims received checks, %d bytes in all; the attacker's signals were %d bytes", r.victims, r.bytes, r.signalBytes)
	if r.victims == 0 {
		t.Fatal("no connectivity check at all: the attack did not reach ICE")
	}
	if r.victims > 8 {
		t.Fatalf("%d victims were sent checks, cap 8", r.victims)
	}
	if r.bytes > r.signalBytes {
		t.Fatalf("the victims got %d bytes of checks for %d bytes of signals", r.bytes, r.signalBytes)
	}
	// A lean attacker: the eight candidates inline in a bare offer, the
	// most checks per byte signaled.
	r = iceReflection(t, true)
	t.Logf("a bare offer with 8 candidates inline: %d victims received checks, %d bytes in all; the attacker's signals were %d bytes", r.victims, r.bytes, r.signalBytes)
	if r.victims == 0 {
		t.Fatal("no connectivity check at all: the attack did not reach ICE")
	}
	if r.bytes > r.signalBytes {
		t.Fatalf("the victims got %d bytes of checks for %d bytes of signals", r.bytes, r.signalBytes)
	}
}

type reflection struct {
	victims, bytes, signalBytes int
}

// iceReflection runs one attack: inline puts 8 candidates in the offer's
// description, otherwise 30 are trickled after it.
func iceReflection(t *testing.T, inline bool) reflection {
	p := startPex(t, 1, "node", "--network", network, "--listen", "127.0.0.1:0", "--ice-loopback")
	addr := p.addr("tcp")

	// Victims: UDP sockets counting what reaches them.
	var mu sync.Mutex
	hit := map[string]int{}
	var victimBytes int
	var socks []net.PacketConn
	for i := range 100 {
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.46.0.%d:0", i+1))
		if err != nil {
			t.Fatal(err)
		}
		socks = append(socks, pc)
		go func() {
			buf := make([]byte, 2048)
			for {
				n, _, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				mu.Lock()
				hit[pc.LocalAddr().String()]++
				victimBytes += n
				mu.Unlock()
			}
		}()
	}
	defer func() {
		for _, pc := range socks {
			pc.Close()
		}
	}()

	// A real offer's description, from pion in this process.
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.CreateDataChannel("x", nil); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	cand := func(i int) string {
		a := socks[i].LocalAddr().(*net.UDPAddr)
		return fmt.Sprintf("candidate:%d 1 udp 2130706431 %s %d typ host", i, a.IP, a.Port)
	}
	sdp := offer.SDP
	if inline {
		for i := range 8 {
			sdp += "a=" + cand(i) + "\r\n"
		}
	}

	// The attacker: a peer that brings an "incoming" introduction and
	// speaks the introduced session itself.
	c, err := dialFrom("127.47.0.1", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	send := func(b []byte) { c.Write(b) }
	send(helloFrames(`{"pxp":true,"relay":true}`))
	send(line(`["connect","1","` + network + `"]`))
	send(line(`["incoming","2",["r1"]]`))
	nested := func(b []byte) { send(frame(1, mux.TypeDataInit, string(b))) }
	send(frame(1, mux.TypeNew, "relay:r1"))
	nested(helloFrames(`{"pxp":true,"relay":true,"webrtc":true}`))
	signalBytes := 0
	upgrade := func(signal any, nonce int) {
		sig, _ := json.Marshal(signal)
		signalBytes += len(sig)
		arg, _ := json.Marshal(map[string]any{"transport": "webrtc", "signal": json.RawMessage(sig)})
		nested(line(fmt.Sprintf(`["upgrade","%d",%s]`, nonce, arg)))
	}
	upgrade(map[string]string{"type": "offer", "sdp": sdp}, 1)
	if !inline {
		// 30 candidates: within the upgrade messages' rate, so that the
		// cap on candidates is what holds them.
		for i := range 30 {
			upgrade(map[string]any{"candidate": map[string]any{"candidate": cand(i), "sdpMid": "0", "sdpMLineIndex": 0}}, i+2)
		}
	}
	go func() { // read and drop what the node sends
		buf := make([]byte, 64<<10)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}()
	time.Sleep(15 * time.Second) // past the upgrade's 10 s deadline
	mu.Lock()
	defer mu.Unlock()
	return reflection{victims: len(hit), bytes: victimBytes, signalBytes: signalBytes}
}
