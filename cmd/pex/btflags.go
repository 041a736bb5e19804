package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"

	"github.com/seed0021ed4d/pex/bt/swarm"
)

var btSwarmCmd = &cli.Command{
	Name:     "bt swarm",
	Summary:  "peer exchange in one BitTorrent swarm: ut_pex and AZMP",
	Lead:     "(--infohash HEX | --magnet URI | --torrent FILE)",
	Required: []string{"infohash", "magnet", "torrent"},
	About: "Joins the swarm of one infohash for peer exchange only (it moves no pieces). " +
		"It dials the --peer peers (again, with backoff, while they cannot be reached and " +
		"after they drop), the peers --tracker trackers return and those a Mainline DHT " +
		"lookup finds from --dht-bootstrap nodes (pex never uses the public routers), " +
		"accepts peers on --listen (by default on every interface, at the first free " +
		"port of 6881-6889 as BitTorrent clients do; --no-listen accepts none), and runs " +
		"peer exchange with each over ut_pex (BEP 11) " +
		"or Vuze's AZMP, whichever the peer speaks: it tells every peer about the others " +
		"within BEP 11's limits and dials the peers it learns. A magnet's trackers and " +
		"x.pe peers and a torrent file's trackers are used too, unless --no-trackers. A " +
		"private torrent (BEP 27) turns PEX and the DHT off. Outgoing connections leave " +
		"from the --listen host when it is a specific address (--bind picks another), and " +
		"the DHT binds the --listen host, or loopback. A swarm that had peers to try but " +
		"connected to none within --bootstrap-timeout or --duration exits 1 and says why. " +
		"A handshake that fails (a wrong infohash, a peer that is not BitTorrent...) is " +
		"printed with its reason: dial-failed for a peer dialed, disconnected for one " +
		"that connected. Without --json it prints a progress line every two seconds and a " +
		"table of every peer at the end; with --json, one event a line and a summary " +
		"object last.",
	Examples: []string{
		"pex bt swarm --infohash 0123456789abcdef0123456789abcdef01234567 --peer 127.0.0.1:6881",
		"pex bt swarm --magnet 'magnet:?xt=urn:btih:...' --listen 0.0.0.0:6881 --duration 10m",
		"pex bt swarm --torrent f.torrent --dht-bootstrap 192.0.2.1:6881 --encrypt --json",
	},
	Flags: func() *flag.FlagSet { return new(btOpts).flagSet() },
}

// swarmFlags name a swarm and where its peers are found: shared by pex bt
// swarm and pex bt crawl.
type swarmFlags struct {
	infohash, magnet, torrent string
	peers, trackers, dhtBoot  cli.ListFlag
	noTrackers                bool
}

// add registers the flags; peerUsage and trackerUsage say what each
// command does with a --peer and a --tracker.
func (o *swarmFlags) add(fs *flag.FlagSet, peerUsage, trackerUsage string) {
	fs.StringVar(&o.infohash, "infohash", "", "the swarm's infohash: `HEX`, 40 hex digits (or 32 base32 characters)")
	fs.StringVar(&o.magnet, "magnet", "", "a magnet `URI` naming the swarm (xt=urn:btih:...; its tr and x.pe are used too)")
	fs.StringVar(&o.torrent, "torrent", "", "a .torrent `FILE` naming the swarm (its trackers are used too)")
	fs.Var(&o.peers, "peer", peerUsage)
	fs.Var(&o.trackers, "tracker", trackerUsage)
	fs.BoolVar(&o.noTrackers, "no-trackers", false, "ignore the trackers and peers a --magnet or --torrent carries")
	fs.Var(&o.dhtBoot, "dht-bootstrap", "bootstrap the Mainline DHT from the node at `HOST:PORT` (repeatable; pex never uses the public routers)")
}

// check validates the addresses and URLs given.
func (o *swarmFlags) check(c *cli.Checks) {
	for _, u := range o.trackers {
		c.TrackerURL("tracker", u)
	}
	for _, p := range o.peers {
		c.DialAddr("peer", p)
	}
	for _, b := range o.dhtBoot {
		c.DialAddr("dht-bootstrap", b)
	}
}

type btOpts struct {
	swarmFlags
	logLevel               string
	quiet                  bool
	listen, bind           string
	noListen               bool
	noDHT                  bool
	noPortmap              bool
	dhtListen              string
	noPEX, noAZMP, encrypt bool
	noUTP, noHolepunch     bool
	noIntroductions        bool
	maxPeers               int
	duration               time.Duration
	bootstrapTimeout       time.Duration
	json                   bool
	metrics                string
	state                  string
	http                   string
}

func (o *btOpts) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("pex bt swarm", flag.ContinueOnError)
	o.swarmFlags.add(fs, "connect to the peer at `HOST:PORT` (repeatable; retried with backoff)", "announce to the tracker at `URL` (http, https or udp; repeatable)")
	fs.StringVar(&o.listen, "listen", "", "accept peers on `HOST:PORT` (port 0 picks one; default: every interface, the first free port of 6881-6889, or any port when all are taken)")
	fs.BoolVar(&o.noListen, "no-listen", false, "accept no peers, only dial (trackers are told port 1, as libtorrent does: many refuse 0)")
	fs.StringVar(&o.bind, "bind", "", "dial peers from `HOST`, over TCP and uTP (uTP's socket is bound there, at the --listen port; default: the --listen host when it is a specific address)")
	fs.BoolVar(&o.noPortmap, "no-portmap", false, "do not ask the router (NAT-PMP, PCP, UPnP) to map the --listen port (it is asked only for a port given with --listen)")
	fs.BoolVar(&o.noDHT, "no-dht", false, "do not use the DHT even when bootstrap nodes are given")
	fs.StringVar(&o.dhtListen, "dht-listen", "", "UDP `HOST:PORT` for the DHT node (default: the --listen host, or 127.0.0.1; any port)")
	fs.BoolVar(&o.noPEX, "no-pex", false, "turn peer exchange (ut_pex and AZMP's) off for this swarm")
	fs.BoolVar(&o.noAZMP, "no-azmp", false, "do not offer Vuze's messaging protocol (AZMP); use ut_pex with every peer")
	fs.BoolVar(&o.noUTP, "no-utp", false, "run over TCP only: no uTP (BEP 29) beside it on the --listen port, no hole punching (default: uTP on, when listening)")
	fs.BoolVar(&o.noHolepunch, "no-holepunch", false, "take no part in hole punching (BEP 55): offer no ut_holepunch, relay nothing, ask no peer (default: on with uTP)")
	fs.BoolVar(&o.noIntroductions, "no-introductions", false, "as a relay, do not introduce a newcomer to a peer behind a NAT that one of the two cannot punch to (BEP 55 needs ut_holepunch on both): by default such a peer is sent a PEX message naming the newcomer at once, so that both dial at the same moment")
	fs.BoolVar(&o.encrypt, "encrypt", false, "open outgoing connections with Message Stream Encryption (falls back to plain); incoming MSE is always answered")
	fs.IntVar(&o.maxPeers, "max-peers", 0, fmt.Sprintf("`N` connections at most (0: the library's default, %d)", swarm.DefaultMaxPeers))
	fs.DurationVar(&o.bootstrapTimeout, "bootstrap-timeout", 0, "exit 1 when no peer was connected within `D` (0: keep trying)")
	fs.DurationVar(&o.duration, "duration", 0, "stop after `D` (0: until SIGINT or SIGTERM)")
	fs.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics at /metrics and profiles at /debug/pprof/ on `HOST:PORT`")
	fs.StringVar(&o.http, "http", "", "serve the live view (peers, who named whom, the log) at /live on `HOST:PORT`")
	fs.StringVar(&o.state, "state", "", "remember the peers that worked in `DIR` (bt-peers.json, per infohash) and dial them at the next start")
	fs.BoolVar(&o.json, "json", false, "print one JSON object a line")
	fs.BoolVar(&o.quiet, "quiet", false, cli.QuietUsage)
	cli.AddLogLevel(fs, &o.logLevel)
	return fs
}

// check refuses a bad command line at start, naming each bad flag.
func (o *btOpts) check(args []string, stderr io.Writer) error {
	c := cli.Checks{Cmd: "pex bt swarm"}
	c.NoArgs(args)
	c.NonNegative("max-peers", int64(o.maxPeers))
	c.NonNegativeDuration("duration", o.duration)
	c.NonNegativeDuration("bootstrap-timeout", o.bootstrapTimeout)
	c.HostPort("listen", o.listen)
	if o.noListen && o.listen != "" {
		c.Fail("no-listen", "give --listen or --no-listen, not both")
	}
	c.LogLevel(o.logLevel)
	c.HostPort("http", o.http)
	c.HostPort("metrics", o.metrics)
	c.HostPort("dht-listen", o.dhtListen)
	if o.bind != "" && net.ParseIP(o.bind) == nil {
		c.Fail("bind", "want an IP address, got %q", o.bind)
	}
	o.swarmFlags.check(&c)
	if c.OK() {
		c.OutputDir("state", o.state, 0o700)
	}
	return c.Report(stderr)
}

// Where pex bt swarm listens without --listen: on every interface, at
// BEP 3's ports ("try to listen on port 6881 and if that port is taken
// try 6882, then 6883, etc. and give up after 6889"). Tests move them off
// the machine's ports.
var (
	btListenHost  = "0.0.0.0"
	btListenPorts = []int{6881, 6882, 6883, 6884, 6885, 6886, 6887, 6888, 6889}
)

// listenFirstFree listens on host at the first of ports it can bind, or,
// when none is free, on any port. It returns the listener and why that
// port.
func listenFirstFree(host string, ports []int) (net.Listener, string, error) {
	for _, p := range ports {
		if ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p))); err == nil {
			return ln, "default: the first free port of " + portRange(ports), nil
		}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	return ln, "default: " + portRange(ports) + " taken, any port", err
}

// portRange names ports as "6881-6889" (or the one port).
func portRange(ports []int) string {
	if len(ports) == 0 {
		return "none"
	}
	if len(ports) == 1 {
		return strconv.Itoa(ports[0])
	}
	return fmt.Sprintf("%d-%d", ports[0], ports[len(ports)-1])
}

// announcePort is the port told to trackers: the listen port, or 1 when
// the swarm does not listen. BEP 3 and BEP 15 require a port, and many
// trackers refuse 0; libtorrent announces 1 when it has no listen socket
// (since 1.2.5), a port nobody dials for BitTorrent.
func announcePort(listen int) int {
	if listen == 0 {
		return 1
	}
	return listen
}
