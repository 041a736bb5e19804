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
// would, offers a WebRTC upgrade and trickles candidates naming victims'
// UDP ports. The node checks at most MaxRemoteCandidates of them,
// and the STUN bytes the victims receive are reported against what the
// attacker sent.
func TestPXPICEReflection(t *testing.T) {
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

	// The attacker: a peer that brings an "incoming" introduction and
	// speaks the introduced session itself.
	c, err := dialFrom("127.47.0.1", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sent := 0
	send := func(b []byte) {
		n, _ := c.Write(b)
		sent += n
	}
	send(helloFrames(`{"pxp":true,"relay":true}`))
	send(line(`["connect","1","` + network + `"]`))
	send(line(`["incoming","2",["r1"]]`))
	nested := func(b []byte) { send(frame(1, mux.TypeDataInit, string(b))) }
	send(frame(1, mux.TypeNew, "relay:r1"))
	nested(helloFrames(`{"pxp":true,"relay":true,"webrtc":true}`))
	upgrade := func(signal any, nonce int) {
		arg, _ := json.Marshal(map[string]any{"transport": "webrtc", "signal": signal})
		nested(line(fmt.Sprintf(`["upgrade","%d",%s]`, nonce, arg)))
	}
	upgrade(map[string]string{"type": "offer", "sdp": offer.SDP}, 1)
	// 30 candidates: within the upgrade messages' rate, so that the cap on
	// candidates is what holds them.
	for i, s := range socks[:30] {
		a := s.LocalAddr().(*net.UDPAddr)
		cand := fmt.Sprintf("candidate:%d 1 udp 2130706431 %s %d typ host", i, a.IP, a.Port)
		upgrade(map[string]any{"candidate": map[string]any{"candidate": cand, "sdpMid": "0", "sdpMLineIndex": 0}}, i+2)
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
	t.Logf("30 candidates offered: %d victims received checks, %d bytes in all; the attacker sent %d bytes", len(hit), victimBytes, sent)
	if len(hit) == 0 {
		t.Fatal("no connectivity check at all: the attack did not reach ICE")
	}
	if len(hit) > 8 {
		t.Fatalf("%d victims were sent checks, cap 8", len(hit))
	}
	// At most 8 candidates, 4 checks each, of at most 160 bytes.
	if victimBytes > 8*4*160 {
		t.Fatalf("the victims got %d bytes of checks", victimBytes)
	}
}
