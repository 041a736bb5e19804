package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seed0021ed4d/pex/bt/pex"
	"github.com/seed0021ed4d/pex/bt/wire"
	"github.com/seed0021ed4d/pex/lab/memnet"
)

// btAttacker is a hostile peer. It joins the swarm as a peer does: it
// announces to the tracker, dials the honest peers it is named, takes
// the links dialed to it (up to the attack's Links in all, dialing up to
// MaxPeers of them), and speaks BitTorrent and ut_pex on the wire through
// bt/wire and bt/pex.
// But it lies in PEX: on every link it sends Rate messages a protocol
// minute, each naming Added addresses: every victim, up to ten other
// attackers, and for the rest addresses it invents where nothing
// listens, fresh each time.
//
// It is written here with the wire codecs rather than as a swarm.Swarm
// with a hook: a Swarm tells only the peers it is connected to, within
// BEP 11's limits, and a hook to make it lie would be code in bt/swarm
// that only an attack uses.
type btAttacker struct {
	w      *btWorld
	i      int
	addr   netip.AddrPort
	id     [20]byte
	ln     *memnet.Listener
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	rng     *rand.Rand
	links   map[*atkLink]struct{}
	held    int                          // its links, dials in flight and handshakes included
	linked  map[netip.AddrPort]bool      // peers' listen addresses it has a link to
	nextTry map[netip.AddrPort]time.Time // honest peers it knows -> not dialed before

	sent, named, ended atomic.Int64 // PEX messages, the addresses in them, links ended
}

// atkLink is one of an attacker's links.
type atkLink struct {
	nc       net.Conn
	outgoing bool
	peer     netip.AddrPort // the peer's listen address, when known
	pexID    atomic.Uint32  // the id the peer takes ut_pex under, once told
	sent     bool           // a PEX message went out on it (pace's)
	payload  []byte         // pace's buffers for this link's messages
	frame    []byte
	msg      pex.Msg
}

// Attackers' pacing: a peer it failed to link to is dialed again a
// minute later at the soonest; it starts at most attackDials dials each
// attackEvery.
const (
	attackRetry = time.Minute
	attackEvery = 10 * time.Second
	attackDials = 4
)

// startAttacker brings attacker i up: listening, sending, and dialing
// what it learns.
func (w *btWorld) startAttacker(i int) (*btAttacker, error) {
	a := &btAttacker{w: w, i: i, addr: w.plan.attackers[i], links: map[*atkLink]struct{}{},
		linked: map[netip.AddrPort]bool{}, nextTry: map[netip.AddrPort]time.Time{},
		rng: rand.New(rand.NewPCG(w.cfg.Seed+uint64(i), 0xbad))}
	copy(a.id[:], "-AT0001-")
	for k := 8; k < 20; k++ {
		a.id[k] = byte('a' + a.rng.IntN(26))
	}
	ln, err := w.nw.Listen(a.addr.String())
	if err != nil {
		return nil, err
	}
	a.ln = ln
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.wg.Add(2)
	go a.accept()
	go a.pace()
	w.mu.Lock()
	w.attackers = append(w.attackers, a)
	w.mu.Unlock()
	return a, nil
}

// learn takes peers' listen addresses (a tracker's answer, a PEX message)
// and dials as many honest ones as it has room for: the attackers know
// each other.
func (a *btAttacker) learn(addrs []netip.AddrPort) {
	a.mu.Lock()
	for _, p := range addrs {
		if _, ok := a.nextTry[p]; !ok && a.w.kindOf(p) == kindHonest {
			a.nextTry[p] = time.Time{}
		}
	}
	a.mu.Unlock()
	a.dialSome(a.w.cfg.MaxPeers)
}

// dialSome dials up to n peers it knows, has no link to and may try now,
// while it holds fewer than MaxPeers links (and the attack's Links).
func (a *btAttacker) dialSome(n int) {
	now := a.w.clock.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	for p, next := range a.nextTry {
		if n == 0 || a.held >= min(a.w.cfg.MaxPeers, a.w.plan.cfg.Links) || a.ctx.Err() != nil {
			return
		}
		if a.linked[p] || now.Before(next) {
			continue
		}
		a.nextTry[p] = now.Add(attackRetry)
		a.linked[p] = true
		a.held++
		n--
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			from := fmt.Sprintf("%s:%d", a.addr.Addr(), 10000+a.w.ports.Add(1)%50000)
			nc, err := a.w.nw.DialFrom(from, p.String())
			if err != nil {
				a.mu.Lock()
				a.held--
				delete(a.linked, p)
				a.mu.Unlock()
				return
			}
			a.run(nc, true, p)
		}()
	}
}

func (a *btAttacker) accept() {
	defer a.wg.Done()
	for {
		nc, err := a.ln.Accept()
		if err != nil {
			return
		}
		a.mu.Lock()
		full := a.held >= a.w.plan.cfg.Links
		if !full {
			a.held++
		}
		a.mu.Unlock()
		if full {
			nc.Close()
			continue
		}
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			a.run(nc, false, netip.AddrPort{})
		}()
	}
}

// run drives one link until it ends: the handshakes, then reading what
// the peer sends (its extended handshake, its PEX) while pace sends.
func (a *btAttacker) run(nc net.Conn, outgoing bool, peer netip.AddrPort) {
	l := &atkLink{nc: nc, outgoing: outgoing, peer: peer}
	stop := context.AfterFunc(a.ctx, func() { nc.Close() })
	defer stop()
	a.talk(l)
	nc.Close()
	now := a.w.clock.Now()
	a.mu.Lock()
	delete(a.links, l)
	if l.peer.IsValid() {
		delete(a.linked, l.peer)
		if l.sent {
			// A link it lied on that ended (a flood rule, most likely):
			// back at the next round of dials.
			a.nextTry[l.peer] = now
		}
	}
	a.held--
	a.mu.Unlock()
	a.ended.Add(1)
}

// talk runs l's handshakes and reads it until it ends, for whatever
// reason.
func (a *btAttacker) talk(l *atkLink) {
	hs := wire.Handshake{InfoHash: a.w.ih, PeerID: a.id}
	hs.Reserved[wire.ReservedByteLTEP] |= wire.ReservedBitLTEP
	ext := wire.ExtHandshake{M: map[string]int{"ut_pex": 1}, Port: int(a.addr.Port()), Version: "attacker/1"}
	out := wire.AppendExtended(hs.Append(nil), 0, ext.Bytes())
	l.nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := l.nc.Write(out); err != nil {
		return
	}
	if theirs, err := wire.ReadHandshake(l.nc); err != nil || theirs.InfoHash != a.w.ih {
		return
	}
	l.nc.SetDeadline(time.Time{})
	a.mu.Lock()
	a.links[l] = struct{}{}
	a.mu.Unlock()
	r := wire.NewReader(l.nc, 1<<20)
	var m pex.Msg
	for {
		msg, err := r.ReadMessage()
		if err != nil {
			return
		}
		if msg.KeepAlive || msg.ID != wire.MsgExtended || len(msg.Payload) == 0 {
			continue
		}
		switch msg.Payload[0] {
		case 0:
			h, err := wire.ParseExtHandshake(msg.Payload[1:])
			if err != nil {
				return
			}
			if !l.outgoing && h.Port > 0 && h.Port < 65536 {
				listen := netip.AddrPortFrom(netip.MustParseAddrPort(l.nc.RemoteAddr().String()).Addr(), uint16(h.Port))
				a.mu.Lock()
				if !l.peer.IsValid() && !a.linked[listen] {
					l.peer = listen
					a.linked[listen] = true
				}
				a.mu.Unlock()
			}
			if id := h.M["ut_pex"]; id > 0 && id < 256 {
				l.pexID.Store(uint32(id))
			}
		case 1: // ut_pex, under the id we told: the peer's peers, to dial
			if pex.Decode(msg.Payload[1:], &m) == nil {
				addrs := make([]netip.AddrPort, 0, len(m.Added))
				for _, p := range m.Added {
					addrs = append(addrs, p.Addr)
				}
				a.learn(addrs)
			}
		}
	}
}

// pace sends PEX on every link Rate times a protocol minute, and every
// attackEvery dials a few peers it knows, to keep its links up.
func (a *btAttacker) pace() {
	defer a.wg.Done()
	cfg := a.w.plan.cfg
	send := time.NewTicker(a.w.clock.Real(time.Duration(float64(time.Minute) / cfg.Rate)))
	defer send.Stop()
	dial := time.NewTicker(a.w.clock.Real(attackEvery))
	defer dial.Stop()
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-dial.C:
			a.dialSome(attackDials)
		case <-send.C:
			a.mu.Lock()
			links := make([]*atkLink, 0, len(a.links))
			for l := range a.links {
				if l.pexID.Load() != 0 {
					links = append(links, l)
				}
			}
			a.mu.Unlock()
			for _, l := range links {
				a.send(l)
			}
		}
	}
}

// send writes one lying PEX message on l.
func (a *btAttacker) send(l *atkLink) {
	cfg, plan := a.w.plan.cfg, a.w.plan
	m := &l.msg
	m.Reset()
	a.mu.Lock()
	for v := range cfg.Victims {
		m.Added = append(m.Added, pex.Peer{Addr: netip.AddrPortFrom(victimAddr(v), victimPort(a.rng.IntN(cfg.VictimPorts)))})
	}
	for k := 0; k < attackNamed && len(plan.attackers) > 1 && len(m.Added) < cfg.Added; k++ {
		if j := a.rng.IntN(len(plan.attackers)); j != a.i {
			m.Added = append(m.Added, pex.Peer{Addr: plan.attackers[j]})
		}
	}
	for len(m.Added) < cfg.Added {
		m.Added = append(m.Added, pex.Peer{Addr: inventedAddr(a.rng, cfg.Prefixes)})
	}
	a.mu.Unlock()
	m.Added = m.Added[:cfg.Added] // Victims may exceed a small Added
	var err error
	if l.payload, err = pex.Append(l.payload[:0], m); err != nil {
		return
	}
	l.frame = wire.AppendExtended(l.frame[:0], byte(l.pexID.Load()), l.payload)
	// No write deadline: the peer reads all the time, and a link closed
	// by either side fails the write at once.
	if _, err := l.nc.Write(l.frame); err != nil {
		l.nc.Close() // the reader ends the link
		return
	}
	a.mu.Lock()
	l.sent = true
	a.mu.Unlock()
	a.sent.Add(1)
	a.named.Add(int64(len(m.Added)))
}

// conns is how many links the attacker has past their handshakes.
func (a *btAttacker) conns() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.links)
}

func (a *btAttacker) close() {
	a.mu.Lock() // dialSome adds to wg under mu, and only before the cancel
	a.cancel()
	a.mu.Unlock()
	a.ln.Close()
	a.wg.Wait()
}
