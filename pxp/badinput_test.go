package pxp

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/lab/memnet"
	"github.com/seed0021ed4d/pex/mux"
	"github.com/seed0021ed4d/pex/pxp/wire"
)

const goodHello = `[1,{"pxp":true,"relay":true,"webrtc":true},["pxp-mesh"]]`

// healthy checks that node still serves a well-behaved peer.
func healthy(t *testing.T, node *Exchange) {
	t.Helper()
	other := newExchange(t, nil)
	oc, nc := link(t, other, node)
	writeLine(t, oc, "still there?")
	if got := readLine(t, nc); got != "still there?" {
		t.Fatalf("read %q", got)
	}
	oc.Peer().Close()
}

func TestHandshakeFailures(t *testing.T) {
	cases := []struct {
		name  string
		send  func(r *rawPeer)
		want  error
		proto bool
	}{
		{"wrong magic", func(r *rawPeer) { r.write([]byte("#PXQ#")) }, ErrBadMagic, false},
		{"short magic then close", func(r *rawPeer) { r.write([]byte("#P")); r.c.(*memnet.Conn).CloseWrite() }, ErrBadMagic, false},
		{"version 2", func(r *rawPeer) { r.start(`[2,null,["pxp-mesh"]]`) }, ErrVersionMismatch, false},
		{"version as string", func(r *rawPeer) { r.start(`["1",null,["pxp-mesh"]]`) }, ErrVersionMismatch, false},
		{"no common network", func(r *rawPeer) { r.start(`[1,null,["other"]]`) }, ErrNetworkMismatch, false},
		{"networks not a list", func(r *rawPeer) { r.start(`[1,null,"pxp-mesh"]`) }, nil, true},
		{"hello not an array", func(r *rawPeer) { r.start(`{"v":1}`) }, nil, true},
		{"invalid JSON", func(r *rawPeer) { r.start(`[1,null,["pxp-mesh"]`) }, nil, true},
	}
	node := newExchange(t, nil)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rp, errc := dialRaw(t, node)
			tc.send(rp)
			err := <-errc
			var pe *ProtocolError
			switch {
			case tc.proto && !errors.As(err, &pe):
				t.Fatalf("got %v, want a ProtocolError", err)
			case !tc.proto && !errors.Is(err, tc.want):
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if len(node.Peers()) != 0 {
				t.Fatalf("a failed handshake left a peer in the list (B5)")
			}
		})
	}
	healthy(t, node)
}

// readyRaw returns a raw peer past the handshake with a connected data stream.
func readyRaw(t *testing.T, node *Exchange) *rawPeer {
	t.Helper()
	rp, errc := dialRaw(t, node)
	rp.readMagic()
	rp.start(goodHello)
	rp.expect(wire.CmdHello)
	n := rp.request(wire.CmdConnect, `"pxp-mesh"`)
	if m := rp.expect(wire.CmdRes); m.Nonce != n || string(m.Args) != "null" {
		t.Fatalf("connect answered %s %s", m.Nonce, m.Args)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return rp
}

func TestBadMessagesCloseOnlyThatLink(t *testing.T) {
	cases := []struct {
		name string
		line string
	}{
		{"invalid JSON", `["getpeers","1",`},
		{"not an array", `{"getpeers":1}`},
		{"two elements", `["getpeers","1"]`},
		{"command not a string", `[7,"1","pxp-mesh"]`},
		{"nonce not a string", `["getpeers",1,"pxp-mesh"]`},
		{"getpeers arg not a string", `["getpeers","1",["pxp-mesh"]]`},
		{"relay arg not [id]", `["relay","1","abc"]`},
		{"incoming arg not [id]", `["incoming","1",[1,2]]`},
		{"upgrade to an unknown transport", `["upgrade","1",{"transport":"carrier-pigeon"}]`},
	}
	node := newExchange(t, nil)
	bystander := newExchange(t, nil)
	bc, nc := link(t, bystander, node)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rp := readyRaw(t, node)
			rp.line(tc.line)
			rp.expectClosed()
		})
	}
	// The other link is untouched.
	writeLine(t, bc, "ok")
	if got := readLine(t, nc); got != "ok" {
		t.Fatalf("bystander link broken: %q", got)
	}
	healthy(t, node)
}

func TestUnknownCommandIgnored(t *testing.T) {
	node := newExchange(t, nil)
	rp := readyRaw(t, node)
	rp.line(`["frobnicate","9",null]`)
	n := rp.request(wire.CmdGetPeers, `"pxp-mesh"`)
	m := rp.expect(wire.CmdRes)
	if m.Nonce != n {
		t.Fatalf("nonce %s want %s", m.Nonce, n)
	}
}

func TestRefusalsKeepTheLink(t *testing.T) {
	node := newExchange(t, nil)
	rp := readyRaw(t, node)
	check := func(cmd, args, want string) {
		t.Helper()
		n := rp.request(cmd, args)
		m := rp.expect(wire.CmdRes)
		if m.Nonce != n || !strings.Contains(string(m.Args), want) {
			t.Fatalf("%s %s answered %s %s, want %q", cmd, args, m.Nonce, m.Args, want)
		}
	}
	check(wire.CmdGetPeers, `"nope"`, `Peer requested an unknown network:\"nope\"`)
	check(wire.CmdRelay, `["deadbeef"]`, "Peer requested unknown candidate: id=deadbeef")
	check(wire.CmdConnect, `"pxp-mesh"`, "twice")
	rp.expectClosed() // connecting twice is a violation, as in the reference
	healthy(t, node)
}

func TestConnectElsewhereRefused(t *testing.T) {
	node := newExchange(t, nil)
	rp := readyRaw(t, node)
	n := rp.request(wire.CmdConnect, `"other-net"`)
	if m := rp.expect(wire.CmdRes); m.Nonce != n || !strings.Contains(string(m.Args), "unsupported network") {
		t.Fatalf("got %s", m.Args)
	}
}

func TestFrameOverLimitClosesLink(t *testing.T) {
	node := newExchange(t, &Config{MaxFrameSize: 64 << 10})
	rp := readyRaw(t, node)
	big := strings.Repeat("x", 64<<10+1)
	rp.frame(3, mux.TypeNew, "data:pxp-mesh")
	rp.frame(3, mux.TypeDataInit, big)
	rp.expectClosed()
	healthy(t, node)
}

func TestLongLineClosesLink(t *testing.T) {
	node := newExchange(t, &Config{MaxMessageSize: 1024})
	rp := readyRaw(t, node)
	rp.frame(0, mux.TypeDataInit, `["getpeers","5","`+strings.Repeat("a", 2000))
	rp.expectClosed()
	healthy(t, node)
}

func TestUnrequestedStreamsBounded(t *testing.T) {
	node := newExchange(t, nil)
	rp := readyRaw(t, node)
	chunk := strings.Repeat("z", 32<<10)
	for i := 0; i < 100; i++ {
		ch := uint64(10 + i)
		rp.frame(ch, mux.TypeNew, "relay:never-asked-"+string(rune('a'+i%26))+wire.FormatNonce(uint64(i)))
		for j := 0; j < 4; j++ {
			rp.frame(ch, mux.TypeDataInit, chunk)
		}
	}
	// The link still answers.
	n := rp.request(wire.CmdGetPeers, `"pxp-mesh"`)
	if m := rp.expect(wire.CmdRes); m.Nonce != n {
		t.Fatalf("nonce %s", m.Nonce)
	}
}

func TestChannelErrorStaysLocal(t *testing.T) {
	node := newExchange(t, nil)
	rp := readyRaw(t, node)
	// Destroy our data channel (JS does this on close); the link survives.
	rp.frame(1, mux.TypeNew, "data:pxp-mesh")
	rp.frame(1, mux.TypeErrInit, "")
	rp.frame(1, mux.TypeErrReceiver, "")
	n := rp.request(wire.CmdGetPeers, `"pxp-mesh"`)
	if m := rp.expect(wire.CmdRes); m.Nonce != n {
		t.Fatalf("nonce %s", m.Nonce)
	}
	if len(node.Peers()) != 1 {
		t.Fatal("the link was dropped")
	}
}

func TestGetPeersFloodRefused(t *testing.T) {
	node := newExchange(t, &Config{GetPeersRate: 1, GetPeersBurst: 3})
	rp := readyRaw(t, node)
	refused := 0
	for i := 0; i < 20; i++ {
		rp.request(wire.CmdGetPeers, `"pxp-mesh"`)
	}
	for i := 0; i < 20; i++ {
		m := rp.expect(wire.CmdRes)
		if strings.Contains(string(m.Args), "too many") {
			refused++
		}
	}
	if refused < 15 {
		t.Fatalf("only %d of 20 getpeers refused with burst 3", refused)
	}
	healthy(t, node)
}

func TestRelayFloodBounded(t *testing.T) {
	// The destination never answers `incoming`, so relays pile up.
	node := newExchange(t, &Config{MaxRelaysPerPeer: 2, RequestTimeout: 30 * time.Second})
	dest := readyRaw(t, node)
	_ = dest
	asker := readyRaw(t, node)
	n := asker.request(wire.CmdGetPeers, `"pxp-mesh"`)
	m := asker.expect(wire.CmdRes)
	if m.Nonce != n {
		t.Fatal("nonce")
	}
	var res []json.RawMessage
	json.Unmarshal(m.Args, &res)
	var cands []Candidate
	json.Unmarshal(res[1], &cands)
	if len(cands) != 1 {
		t.Fatalf("got %d candidates: %s", len(cands), m.Args)
	}
	// Ask for more ids and relay to them all at once.
	var ids []string
	ids = append(ids, cands[0].ID)
	for i := 0; i < 3; i++ {
		asker.request(wire.CmdGetPeers, `"pxp-mesh"`)
		m := asker.expect(wire.CmdRes)
		var r []json.RawMessage
		json.Unmarshal(m.Args, &r)
		var c []Candidate
		json.Unmarshal(r[1], &c)
		ids = append(ids, c[0].ID)
	}
	for _, id := range ids {
		asker.request(wire.CmdRelay, `["`+id+`"]`)
	}
	m = asker.expect(wire.CmdRes)
	if !strings.Contains(string(m.Args), "too many relays for one peer") {
		t.Fatalf("third relay answered %s", m.Args)
	}
	healthy(t, node)
}

// A peer flooding requests gets errors, then is disconnected; a bystander
// keeps its link and is served.
func TestRequestFloodAnsweredThenDisconnected(t *testing.T) {
	node := newExchange(t, &Config{GetPeersRate: 1, GetPeersBurst: 2, RefusalBurst: 5})
	bystander := newExchange(t, nil)
	link(t, bystander, node)
	rp, errc := dialRaw(t, node)
	rp.readMagic()
	rp.start(goodHello)
	rp.request(wire.CmdConnect, `"pxp-mesh"`)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	refused := 0
	for range 20 {
		rp.request(wire.CmdGetPeers, `"pxp-mesh"`)
	}
	for {
		m, err := rp.next()
		if err != nil {
			break // closed
		}
		if m.Command == wire.CmdRes && strings.Contains(string(m.Args), "too many getpeers") {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("no request over the rate was answered with an error")
	}
	waitEvent(t, node, EventError, func(ev Event) bool { return errors.Is(ev.Err, ErrFlood) })
	if _, err := bystander.Peers()[0].GetPeers(context.Background()); err != nil {
		t.Fatalf("the bystander was not served: %v", err)
	}
}

// Relays are not chained: a relayed session may not ask for a relay.
func TestNoRelayChains(t *testing.T) {
	_, l := star(t, 2, nil)
	b := l[0]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	bc, err := b.GetNewPeer(ctx) // a relayed session b-c through hub
	if err != nil {
		t.Fatal(err)
	}
	via := bc.Peer()
	if via.Via() == nil {
		t.Fatal("not a relayed session")
	}
	cands, err := via.GetPeers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, cd := range cands {
		arg, _ := json.Marshal([]string{cd.ID})
		res, err := via.request(ctx, wire.CmdRelay, arg)
		if err == nil {
			err = responseError(wire.CmdRelay, res)
		}
		if err == nil || !strings.Contains(err.Error(), "relayed session") {
			t.Fatalf("relay over a relayed session: %v", err)
		}
	}
}
