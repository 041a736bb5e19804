package soak

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seed0021ed4d/pex/pxp"
	"github.com/seed0021ed4d/pex/transport/ws"
)

// pxpNetwork is the network id of the relay and its population.
const pxpNetwork = "soak"

// pxpPop is the relay's population: Go nodes over TCP and WebSocket
// clients, each joining, asking the relay for introductions, writing
// lines on every link, and leaving.
type pxpPop struct {
	pop
	tcp, ws, http string // the relay's --listen, --ws and --http addresses
}

// run runs the population until ctx ends, and returns once every member
// has left.
func (p *pxpPop) run(ctx context.Context) {
	p.slots(ctx, p.cfg.Nodes, 1, func(ctx context.Context, rng *rand.Rand) { p.member(ctx, rng, false) })
	p.slots(ctx, p.cfg.Clients, 2, func(ctx context.Context, rng *rand.Rand) { p.member(ctx, rng, true) })
	p.slots(ctx, p.cfg.Misbehaving, 3, func(ctx context.Context, rng *rand.Rand) { p.misbehave(ctx, rng) })
	<-ctx.Done()
	p.wait()
}

// pxpMember is one member while it lives.
type pxpMember struct {
	p       *pxpPop
	ex      *pxp.Exchange
	ln      net.Listener // a node's
	wg      sync.WaitGroup
	intros  atomic.Int32 // introduced links alive
	dataGap time.Duration

	rawMu sync.Mutex
	raw   net.Conn // its transport to the relay (a WebSocket client's TCP connection under the WebSocket)
}

func (m *pxpMember) setRaw(c net.Conn) {
	m.rawMu.Lock()
	m.raw = c
	m.rawMu.Unlock()
}

// member lives one member's life: a Go node (listening, dialing the
// addresses candidates advertise) or a browser (over WebSocket, its
// introductions relayed sessions).
func (p *pxpPop) member(ctx context.Context, rng *rand.Rand, browser bool) {
	ip, ok := take(ctx, p.addrs)
	if !ok {
		return
	}
	defer p.addrs.give(ip) // once all below is closed
	life, cancel := context.WithTimeout(ctx, p.lifetime(rng))
	defer cancel()
	m := &pxpMember{p: p, dataGap: p.cfg.DataEvery}
	cfg := &pxp.Config{MaxPeers: 8}
	if !browser {
		ln, err := net.Listen("tcp", p.listenAt(ip))
		if err != nil {
			p.n.joinFailed.Add(1)
			sleep(ctx, time.Second)
			return
		}
		m.ln = ln
		cfg.AdvertiseAddr = ln.Addr().String()
		cfg.Dialer = dialer(ip).DialContext
	}
	ex, err := pxp.New(pxpNetwork, cfg)
	if err != nil {
		panic(err) // a valid Config
	}
	m.ex = ex
	if m.ln != nil {
		m.wg.Add(1)
		go func() { defer m.wg.Done(); ex.Serve(m.ln) }() // ex.Close closes ln
	}
	m.wg.Add(1)
	go func() { // introductions to this member
		defer m.wg.Done()
		for c := range ex.Incoming() {
			m.talk(life, c, nil)
		}
	}()
	defer m.leave(rng)
	var conn *pxp.Conn
	if browser {
		conn, err = m.joinWS(life, ip, rng)
	} else {
		conn, err = m.joinTCP(life, ip)
	}
	if err != nil {
		if ctx.Err() == nil {
			p.n.joinFailed.Add(1)
			sleep(ctx, time.Second)
		}
		return
	}
	p.n.joined.Add(1)
	defer p.n.left.Add(1)
	m.talk(life, conn, nil)
	m.introduce(life)
}

// joinTCP links a node to the relay over TCP.
func (m *pxpMember) joinTCP(ctx context.Context, ip netip.Addr) (*pxp.Conn, error) {
	c, err := dialer(ip).DialContext(ctx, "tcp", m.p.tcp)
	if err != nil {
		return nil, err
	}
	m.setRaw(c)
	return m.ex.Connect(ctx, c)
}

// joinWS links a browser: it loads the page and its script over
// --http, then opens the WebSocket of --http (/ws) or of --ws, with a
// page's Origin, from ip.
func (m *pxpMember) joinWS(ctx context.Context, ip netip.Addr, rng *rand.Rand) (*pxp.Conn, error) {
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer(ip).DialContext(ctx, network, addr)
		if err == nil {
			m.setRaw(c)
		}
		return c, err
	}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	url := "ws://" + m.p.ws + "/"
	if rng.IntN(2) == 0 {
		for _, path := range []string{"/", "/network.js"} {
			resp, err := client.Get("http://" + m.p.http + path)
			if err != nil {
				return nil, err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		url = "ws://" + m.p.http + "/ws"
	}
	d := ws.Dialer{Header: http.Header{"Origin": {"https://app.example.org"}}, HTTPClient: client}
	c, err := d.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	return m.ex.Connect(ctx, c)
}

// introduce keeps Want introduced links until ctx ends: it asks the
// relay for a new peer whenever it holds fewer.
func (m *pxpMember) introduce(ctx context.Context) {
	for ctx.Err() == nil {
		if int(m.intros.Load()) >= m.p.cfg.Want {
			sleep(ctx, time.Second)
			continue
		}
		gctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		c, err := m.ex.GetNewPeer(gctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				m.p.n.introFailed.Add(1)
				sleep(ctx, 2*time.Second)
			}
			continue
		}
		m.p.n.intros.Add(1)
		m.intros.Add(1)
		m.talk(ctx, c, func() { m.intros.Add(-1) })
	}
}

// talk writes a "ping" line on c every DataEvery and answers each
// "ping" it reads with a "pong" (the relay echoes "echo: ping" and says
// hello, which are only counted), until c or ctx ends; then done.
func (m *pxpMember) talk(ctx context.Context, c net.Conn, done func()) {
	m.wg.Add(2)
	var wmu sync.Mutex
	write := func(s string) error {
		wmu.Lock()
		defer wmu.Unlock()
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, err := io.WriteString(c, s)
		return err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	go func() {
		defer m.wg.Done()
		defer stop()
		defer c.Close()
		if done != nil {
			defer done()
		}
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			m.p.n.lines.Add(1)
			if strings.HasPrefix(line, "ping") && write("pong\n") != nil {
				return
			}
		}
	}()
	go func() {
		defer m.wg.Done()
		if m.dataGap <= 0 {
			return
		}
		t := time.NewTicker(m.dataGap)
		defer t.Stop()
		for n := 0; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if write(fmt.Sprintf("ping %d\n", n)) != nil {
				return
			}
		}
	}()
}

// leave ends the member: a clean close, or for a quarter of them a
// reset of its transport to the relay first (a peer that vanishes).
func (m *pxpMember) leave(rng *rand.Rand) {
	m.rawMu.Lock()
	raw := m.raw
	m.rawMu.Unlock()
	if raw != nil && rng.IntN(4) == 0 {
		reset(raw)
	}
	m.ex.Close()
	m.wg.Wait()
}
