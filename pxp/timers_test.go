package pxp

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed0021ed4d/pex/pxp/wire"
)

// These tests run in a synctest bubble: the in-memory network does no real
// I/O, so the timers below run on virtual time.

func TestSynctestHandshakeTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		node := newExchange(t, nil) // default 10 s
		rp, errc := dialRaw(t, node)
		rp.readMagic()
		start := time.Now()
		err := <-errc
		if !errors.Is(err, ErrHandshakeTimeout) {
			t.Fatalf("got %v", err)
		}
		if d := time.Since(start); d != 10*time.Second {
			t.Fatalf("gave up after %v, want exactly the 10 s default", d)
		}
		// A peer that sends hello but never connect.
		rp2, errc2 := dialRaw(t, node)
		rp2.start(goodHello)
		if err := <-errc2; !errors.Is(err, ErrHandshakeTimeout) {
			t.Fatalf("got %v", err)
		}
		if len(node.Peers()) != 0 {
			t.Fatal("timed-out link kept")
		}
	})
}

func TestSynctestRequestTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newExchange(t, nil)
		ca, cb := pipe()
		rp := newRawPeer(t, cb)
		done := make(chan error, 1)
		go func() {
			_, err := a.Connect(context.Background(), ca)
			done <- err
		}()
		rp.readMagic()
		rp.start(goodHello)
		n := rp.expect(wire.CmdConnect).Nonce
		rp.line(`["res","` + n + `",null]`)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err := a.GetNewPeer(context.Background())
		if !errors.Is(err, ErrRequestTimeout) {
			t.Fatalf("got %v", err)
		}
		if d := time.Since(start); d != 10*time.Second {
			t.Fatalf("timed out after %v, want the 10 s default", d)
		}
		// A caller deadline ends it earlier.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start = time.Now()
		if _, err := a.GetNewPeer(ctx); err == nil || time.Since(start) != time.Second {
			t.Fatalf("GetNewPeer with a 1 s deadline: %v after %v", err, time.Since(start))
		}
		cb.Close()
	})
}

func candidatesOf(t *testing.T, m wire.Message) []Candidate {
	t.Helper()
	var r []json.RawMessage
	if err := json.Unmarshal(m.Args, &r); err != nil || len(r) != 2 {
		t.Fatalf("getpeers response %s", m.Args)
	}
	var c []Candidate
	if err := json.Unmarshal(r[1], &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSynctestCandidateExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		node := newExchange(t, nil)
		other := newExchange(t, nil)
		link(t, other, node)
		rp := readyRaw(t, node)
		rp.request(wire.CmdGetPeers, `"pxp-mesh"`)
		c := candidatesOf(t, rp.expect(wire.CmdRes))
		if len(c) != 1 {
			t.Fatalf("%d candidates", len(c))
		}
		time.Sleep(15*time.Second + time.Millisecond)
		n := rp.request(wire.CmdRelay, `["`+c[0].ID+`"]`)
		m := rp.expect(wire.CmdRes)
		if m.Nonce != n || !strings.Contains(string(m.Args), "unknown candidate") {
			t.Fatalf("relay to an expired id answered %s", m.Args)
		}
		// A fresh id within its 15 s works.
		rp.request(wire.CmdGetPeers, `"pxp-mesh"`)
		c = candidatesOf(t, rp.expect(wire.CmdRes))
		time.Sleep(14 * time.Second)
		rp.request(wire.CmdRelay, `["`+c[0].ID+`"]`)
		m = rp.expect(wire.CmdRes)
		if string(m.Args) != "null" {
			t.Fatalf("relay within the TTL answered %s", m.Args)
		}
	})
}

func TestSynctestGetPeersRateRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		node := newExchange(t, &Config{GetPeersRate: 1, GetPeersBurst: 2})
		rp := readyRaw(t, node)
		ask := func() bool {
			rp.request(wire.CmdGetPeers, `"pxp-mesh"`)
			return !strings.Contains(string(rp.expect(wire.CmdRes).Args), "too many")
		}
		first, second, third := ask(), ask(), ask()
		if !first || !second || third {
			t.Fatal("burst of 2 not enforced")
		}
		time.Sleep(time.Second)
		if !ask() {
			t.Fatal("no token after one second at 1/s")
		}
	})
}

// The relay carries each direction at RelayRateLimit bytes a second.
func TestSynctestRelayRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub, l := star(t, 2, &Config{RelayRateLimit: 20_000})
		b, c := l[0], l[1]
		bc, err := b.GetNewPeer(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		cc := <-c.Incoming()
		const total = 200_000
		go func() {
			buf := make([]byte, 10_000)
			for i := 0; i < total/len(buf); i++ {
				bc.Write(buf)
			}
		}()
		synctest.Wait()
		before := hub.Stats().RelayedBytes
		start := time.Now()
		got := 0
		buf := make([]byte, 32<<10)
		for got < total {
			n, err := cc.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
		// 200 kB at 20 kB/s, less the limiter's initial burst (16 KiB) and
		// what crossed during setup, takes about nine seconds.
		d := time.Since(start)
		if d < 8*time.Second || d > 11*time.Second {
			t.Fatalf("200 kB took %v through a 20 kB/s relay (%d bytes before timing)", d, before)
		}
	})
}

// A peer floods a data stream this node's application never reads: that
// stream alone ends after StallTimeout, and the link goes on serving
// getpeers.
func TestSynctestUnreadDataStreamDoesNotStallLink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		node := newExchange(t, &Config{StreamBuffer: 64 << 10})
		rp, errc := dialRaw(t, node)
		rp.readMagic()
		rp.start(goodHello)
		rp.request(wire.CmdConnect, `"pxp-mesh"`)
		if err := <-errc; err != nil { // Accept returned the data stream; nobody reads it
			t.Fatal(err)
		}
		rp.expect(wire.CmdRes)
		chunk := strings.Repeat("x", 16<<10)
		if err := rp.frame(1, 0, "data:pxp-mesh"); err != nil { // NEW on channel 1
			t.Fatal(err)
		}
		start := time.Now()
		nonce := make(chan string, 1)
		go func() { // one writer: 1 MiB of data, then getpeers behind it
			for range 64 {
				if rp.frame(1, 2, chunk) != nil {
					return
				}
			}
			nonce <- rp.request(wire.CmdGetPeers, `"pxp-mesh"`)
		}()
		m := rp.expect(wire.CmdRes)
		if n := <-nonce; m.Nonce != n {
			t.Fatalf("answer to %s, want %s", m.Nonce, n)
		}
		if waited := time.Since(start); waited > 2*time.Second {
			t.Fatalf("getpeers behind the unread data answered after %v, want within StallTimeout", waited)
		}
		if len(node.Peers()) != 1 {
			t.Fatal("the link was closed")
		}
	})
}

// Through a relay, a destination that stops reading ends that relay, not
// the requester's link: the requester's relay stream stalls behind it and
// is ended alone, its control stream is served on, and the relay is gone
// once the write to the destination times out.
func TestSynctestStalledDestinationEndsOnlyTheRelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := newExchange(t, &Config{StreamBuffer: 64 << 10, RelayRateLimit: 10 << 20})
		dst, derr := dialRaw(t, hub)
		dst.readMagic()
		dst.start(goodHello)
		dst.request(wire.CmdConnect, `"pxp-mesh"`)
		if err := <-derr; err != nil {
			t.Fatal(err)
		}
		req, rerr := dialRaw(t, hub)
		req.readMagic()
		req.start(goodHello)
		req.request(wire.CmdConnect, `"pxp-mesh"`)
		if err := <-rerr; err != nil {
			t.Fatal(err)
		}
		req.expect(wire.CmdRes)
		req.request(wire.CmdGetPeers, `"pxp-mesh"`)
		var cands []json.RawMessage
		json.Unmarshal(req.expect(wire.CmdRes).Args, &cands)
		var list []Candidate
		if len(cands) != 2 || json.Unmarshal(cands[1], &list) != nil || len(list) != 1 {
			t.Fatalf("getpeers answer %s", cands)
		}
		id := list[0].ID
		// The destination takes the introduction, then reads nothing more.
		go func() {
			m := dst.expect(wire.CmdIncoming)
			dst.line(`["res","` + m.Nonce + `",null]`)
		}()
		req.frame(1, 0, "relay:"+id) // NEW: the relay stream
		req.request(wire.CmdRelay, `["`+id+`"]`)
		req.expect(wire.CmdRes)
		start := time.Now()
		nonce := make(chan string, 1)
		go func() {
			chunk := strings.Repeat("r", 16<<10)
			for range 64 { // 1 MiB into the relay
				if req.frame(1, 2, chunk) != nil {
					return
				}
			}
			nonce <- req.request(wire.CmdGetPeers, `"pxp-mesh"`)
		}()
		m := req.expect(wire.CmdRes)
		if n := <-nonce; m.Nonce != n {
			t.Fatalf("answer to %s, want %s", m.Nonce, n)
		}
		if waited := time.Since(start); waited > 5*time.Second {
			t.Fatalf("the requester's getpeers waited %v behind a stalled destination", waited)
		}
		time.Sleep(35 * time.Second) // past the write timeout to the destination
		synctest.Wait()
		if st := hub.Stats(); st.Relays != 0 {
			t.Fatalf("%d relays still carried", st.Relays)
		}
		peers := hub.Peers()
		if len(peers) != 1 {
			t.Fatalf("hub has %d peers, want the requester alone", len(peers))
		}
	})
}

// Relay slots are shared fairly: the links of one prefix hold at most
// MaxRelaysPerPrefix, and a relay that carries nothing is ended after
// RelayIdleTimeout, giving its slot back.
func TestSynctestRelaySlotsFairAndReclaimed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := newExchange(t, &Config{MaxRelays: 8, MaxRelaysPerPrefix: 2, MaxRelaysPerPeer: 8})
		var leaves []*Exchange
		for range 4 {
			l := newExchange(t, nil)
			link(t, l, hub)
			leaves = append(leaves, l)
		}
		// leaves[0] asks for relays to the others: two are carried (its
		// prefix's share: memnet links share one), the third is refused.
		ctx := context.Background()
		var errs []error
		for range 3 {
			_, err := leaves[0].GetNewPeer(ctx)
			errs = append(errs, err)
		}
		if errs[0] != nil || errs[1] != nil || errs[2] == nil || !strings.Contains(errs[2].Error(), "relay limit for your network") {
			t.Fatalf("relay results %v", errs)
		}
		if st := hub.Stats(); st.Relays != 2 {
			t.Fatalf("%d relays carried, want 2", st.Relays)
		}
		// Nobody uses them: after the idle timeout both are gone.
		time.Sleep(121 * time.Second)
		synctest.Wait()
		if st := hub.Stats(); st.Relays != 0 {
			t.Fatalf("%d idle relays still carried after two minutes", st.Relays)
		}
	})
}

// A link still in its handshake (the peer's hello read, no connect yet,
// as a peer that sends its hello and no more leaves it until
// HandshakeTimeout) is listed among the peers but asked nothing: with no
// other link, GetNewPeer fails at once with ErrNoPeers instead of waiting
// on it, and the node offers it to nobody.
func TestSynctestGetNewPeerSkipsLinksInHandshake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		node := newExchange(t, nil)
		rp, errc := dialRaw(t, node)
		rp.start(goodHello)
		synctest.Wait()
		if n := len(node.Peers()); n != 1 {
			t.Fatalf("%d peers, want the one in its handshake listed", n)
		}
		start := time.Now()
		_, err := node.GetNewPeer(context.Background())
		if !errors.Is(err, ErrNoPeers) || time.Since(start) != 0 {
			t.Fatalf("GetNewPeer with only a link in its handshake: %v after %v, want ErrNoPeers at once", err, time.Since(start))
		}
		if c := node.candidatesFor(&Peer{}); len(c) != 0 {
			t.Fatalf("offered %d candidates, want none of a link in its handshake", len(c))
		}
		if err := <-errc; !errors.Is(err, ErrHandshakeTimeout) {
			t.Fatalf("the stalled link ended with %v, want ErrHandshakeTimeout", err)
		}
	})
}
