package sim

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"time"
)

// BTAttack shapes the attackers of a BitTorrent run (issue 29): peers of
// the swarm that speak BitTorrent and ut_pex for real (btattacker.go) and
// fill their PEX messages with addresses where nothing listens, with
// victims' addresses and with each other's. Zero fields take the defaults
// named; a zero Fraction means no attack.
type BTAttack struct {
	// Fraction of the swarm's peers that attack: of Peers, this share
	// (rounded) are attackers and the rest honest (0: no attack).
	Fraction float64
	// Prefixes: the attackers' /24s (in 172.16.0.0/12, apart from the
	// honest peers' 10.0.0.0/8), over which the attackers and the
	// addresses they invent are spread, 254 hosts a /24 (default 1). The
	// swarm's limits are per IP (dials to one IP a minute, openings and
	// handshakes from one IP): fewer prefixes put more attackers, and more
	// invented addresses, behind each IP.
	Prefixes int
	// Rate is the PEX messages an attacker sends on each connection a
	// protocol minute (default 5: BEP 11 says one; libtorrent's rule, the
	// swarm's, disconnects at the 7th within 60 s, and 5 leave room for
	// the delays of a loaded simulation). Over 6 is a flood the receiver
	// should end.
	Rate float64
	// Links is the most links an attacker holds, those it dials (up to
	// the swarm's MaxPeers) and those dialed to it (default MaxPeers,
	// as an honest peer): more let the attackers, who name each other,
	// take more of the honest peers' links.
	Links int
	// Added is the addresses a message names (default 50, BEP 11's
	// limit; a receiver takes the first 50).
	Added int
	// Victims is the hosts that are not BitTorrent peers (a listener that
	// counts connections, answers a line of HTTP and closes) named in
	// every message (default 4, at most 50).
	Victims int
	// VictimPorts is the ports each victim is named at, one drawn a
	// message (default 1: port 80): the swarm's backoff is per address,
	// its limit of dials to one IP (4 a minute) per IP.
	VictimPorts int
	// DeadWait is how long a dial to an invented address lasts, protocol
	// time, before it fails as timed out: a host that drops the SYN, as
	// most unused addresses do (default 10 s, the swarm's dial timeout;
	// negative: refused at once, as by a host that answers RST).
	DeadWait time.Duration
}

// Defaults of BTAttack's fields.
const (
	DefaultAttackRate  = 5
	DefaultAttackAdded = 50
	DefaultVictims     = 4
	DefaultDeadWait    = 10 * time.Second
	// MaxAttackPrefixes: the /24s of 172.16.0.0/12.
	MaxAttackPrefixes = 4096
	// attackNamed is the most other attackers one message names.
	attackNamed = 10
)

func (a *BTAttack) defaults(maxPeers int) {
	if a.Links <= 0 {
		a.Links = maxPeers
	}
	if a.Prefixes <= 0 {
		a.Prefixes = 1
	}
	if a.Rate <= 0 {
		a.Rate = DefaultAttackRate
	}
	if a.Added <= 0 {
		a.Added = DefaultAttackAdded
	}
	if a.Victims <= 0 {
		a.Victims = DefaultVictims
	}
	if a.VictimPorts <= 0 {
		a.VictimPorts = 1
	}
	if a.DeadWait == 0 {
		a.DeadWait = DefaultDeadWait
	}
}

// Attackers is how many of peers attack.
func (a *BTAttack) Attackers(peers int) int {
	return int(math.Round(a.Fraction * float64(peers)))
}

// What an address is, to the simulator that counts the honest peers'
// dials.
const (
	kindHonest = iota
	kindAttacker
	kindVictim
	kindDead // nothing listens there
	kinds
)

// attackPlan places a run's peers: which join slots are honest peers
// and which attackers, and where the attackers and victims are. It is
// the same for the run with attackers and the run without, whose honest
// peers join at the same times.
type attackPlan struct {
	cfg       BTAttack
	honest    int
	attacker  []bool // by join slot
	index     []int  // by join slot: the honest peer's or the attacker's index
	attackers []netip.AddrPort
	byAddr    map[netip.AddrPort]int // attackers by listen address
	victims   map[netip.Addr]int
}

// newAttackPlan places cfg.Peers peers, cfg.Attack.Fraction of them
// attackers in join slots drawn with cfg.Seed.
func newAttackPlan(cfg BTConfig) *attackPlan {
	a := cfg.Attack
	n := a.Attackers(cfg.Peers)
	pl := &attackPlan{cfg: a, honest: cfg.Peers - n, attacker: make([]bool, cfg.Peers), index: make([]int, cfg.Peers),
		byAddr: map[netip.AddrPort]int{}, victims: map[netip.Addr]int{}}
	rng := rand.New(rand.NewPCG(cfg.Seed^0xa77ac4, cfg.Seed+29))
	for _, k := range rng.Perm(cfg.Peers)[:n] {
		pl.attacker[k] = true
	}
	h, x := 0, 0
	for k, bad := range pl.attacker {
		if bad {
			pl.index[k] = x
			x++
		} else {
			pl.index[k] = h
			h++
		}
	}
	if n == 0 {
		return pl
	}
	for i := range n {
		addr := attackerAddr(i, a.Prefixes)
		pl.attackers = append(pl.attackers, addr)
		pl.byAddr[addr] = i
	}
	for v := range a.Victims {
		pl.victims[victimAddr(v)] = v
	}
	return pl
}

// attackPrefix is the attackers' /24 number p: 172.16.0.0/24 and up.
func attackPrefix(p int) [3]byte { return [3]byte{172, byte(16 + p>>8), byte(p)} }

// attackerAddr is attacker i's listen address: in prefix i mod prefixes,
// one host of 254 each, and past 254 a prefix, more attackers a host on
// further ports.
func attackerAddr(i, prefixes int) netip.AddrPort {
	p, k := attackPrefix(i%prefixes), i/prefixes
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{p[0], p[1], p[2], byte(1 + k%254)}), uint16(6881+k/254))
}

// inventedAddr is an address in the attackers' prefixes where nothing
// listens: a port no attacker has.
func inventedAddr(rng *rand.Rand, prefixes int) netip.AddrPort {
	p := attackPrefix(rng.IntN(prefixes))
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{p[0], p[1], p[2], byte(1 + rng.IntN(254))}), uint16(20000+rng.IntN(40000)))
}

// victimAddr is victim v's IP, in 192.168.0.0/16.
func victimAddr(v int) netip.Addr {
	return netip.AddrFrom4([4]byte{192, 168, byte(v / 254), byte(1 + v%254)})
}

// victimPort is the k-th port a victim is named at: 80, then 8001 and up.
func victimPort(k int) uint16 {
	if k == 0 {
		return 80
	}
	return uint16(8000 + k)
}

// attackerIP reports whether ip is in the attackers' space (the honest
// peers are in 10.0.0.0/8).
func attackerIP(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.Is4() {
		return false
	}
	b := ip.As4()
	return b[0] == 172 && b[1]&0xf0 == 16
}
