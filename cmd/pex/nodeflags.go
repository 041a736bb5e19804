package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"

	"github.com/seed0021ed4d/pex/pxp"
	"github.com/seed0021ed4d/pex/pxp/psk"
	"github.com/seed0021ed4d/pex/pxp/webrtc"
	"github.com/seed0021ed4d/pex/turnrest"
)

type nodeOpts struct {
	network string
	listen  string
	connect cli.ListFlag
	want    int
	own     int // of want, links the node opens itself; ownAuto: half of want
	hello   string
	echo    bool
	json    bool
	quiet   bool

	logLevel string       // --log-level
	logger   *slog.Logger // the protocols' logger it asks for (cli.Logger), or nil: silent

	iceLoopback bool
	iceServers  cli.ListFlag
	noWebRTC    bool
	advertise   string
	noDirect    bool
	ws          string
	http        string
	metrics     string
	state       string
	anchors     int
	maxPeers    int
	maxRelays   int

	turnUser, turnPass string
	turnPassFile       string
	turnSecretFile     string           // --turn-secret
	turnTTL            time.Duration    // --turn-ttl
	turnMinter         *turnrest.Minter // from --turn-secret, or nil
	turnName           func() string    // the name the node's own credentials carry (its id)
	noPortmap          bool

	bootstrapTimeout time.Duration
	duration         time.Duration

	front frontOpts // --tls-cert, --tls-key, --trusted-proxy, --ws-origin (nodefront.go)

	networkKeyFile string      // --network-key
	networkKey     *psk.Key    // read from it at start
	networkKeyMode os.FileMode // its mode when others may read it, else 0
}

// addWebRTCFlags registers the transport flags of node-like commands.
func (o *nodeOpts) addWebRTCFlags(fs *flag.FlagSet) {
	fs.BoolVar(&o.iceLoopback, "ice-loopback", false, "WebRTC over loopback addresses only (tests and demos on one machine)")
	fs.Var(&o.iceServers, "ice-server", "STUN/TURN server `URL` for WebRTC: stun:HOST:PORT, turn:HOST:PORT (repeatable; none by default: host candidates only)")
	fs.StringVar(&o.turnUser, "turn-user", "", "the user `NAME` for the turn: servers (default: none, no TURN)")
	fs.StringVar(&o.turnPass, "turn-pass", "", "the `PASSWORD` for the turn: servers, visible to ps and in the shell's history: prefer --turn-pass-file or "+turnPassEnv+" (default: none)")
	fs.StringVar(&o.turnPassFile, "turn-pass-file", "", "read the password for the turn: servers from the first line of `FILE` (default: "+turnPassEnv+" in the environment)")
	fs.StringVar(&o.turnSecretFile, "turn-secret", "", "mint short-lived credentials for the turn: servers from the secret in `FILE`, which they share (pex turn --auth-secret, coturn's static-auth-secret): fresh ones for each upgrade and each page --http serves (default: none)")
	fs.DurationVar(&o.turnTTL, "turn-ttl", defaultTurnTTL, "the life `D` of a credential minted from --turn-secret, "+shortDuration(minTurnTTL)+" to "+shortDuration(maxTurnTTL)+"; the page asks for fresh ones at half of it")
	fs.BoolVar(&o.noWebRTC, "no-webrtc", false, "keep introductions as relayed sessions")
	fs.StringVar(&o.advertise, "advertise", "", "TCP `HOST:PORT` told to peers for direct dials (default: the --listen address when it names an IP)")
	fs.BoolVar(&o.noDirect, "no-direct", false, "neither advertise a TCP address nor dial advertised ones")
}

// exchangeConfig builds the pxp configuration the flags ask for. listenAddr
// is the TCP address actually listened on, if any.
func (o *nodeOpts) exchangeConfig(listenAddr net.Addr) (*pxp.Config, error) {
	cfg := &pxp.Config{MaxPeers: o.maxPeers, MaxRelays: o.maxRelays, Logger: o.logger, NetworkKey: o.networkKey}
	if cfg.MaxAnchors = o.anchors; o.anchors == 0 {
		cfg.MaxAnchors = -1 // none
	}
	if !o.noWebRTC {
		wc := &webrtc.Config{Loopback: o.iceLoopback, Logger: cfg.Logger, ICEServers: o.iceServers, ICEUsername: o.turnUser, ICECredential: o.turnPass,
			ICECredentials: o.iceCredentials()}
		up, err := webrtc.New(wc)
		if err != nil {
			return nil, err
		}
		cfg.Upgrader = up
	}
	if !o.noDirect {
		var d net.Dialer
		cfg.Dialer = d.DialContext
		cfg.AdvertiseAddr = o.advertise
		// The listen address is advertised when peers can reach it: a
		// public one, or loopback (one machine). A private one is not
		// (behind a NAT nobody outside can dial it): the node advertises
		// the address peers see it at once a dial-back confirms it
		// (nat.go).
		if cfg.AdvertiseAddr == "" && listenAddr != nil {
			if ta, ok := listenAddr.(*net.TCPAddr); ok && ta.IP != nil && (ta.IP.IsLoopback() || ta.IP.IsGlobalUnicast() && !ta.IP.IsPrivate()) {
				cfg.AdvertiseAddr = ta.String()
			}
		}
	}
	return cfg, nil
}

var nodeCmd = &cli.Command{
	Name:     "node",
	Summary:  "run one PXP node: accept, bootstrap, grow its peer set",
	Lead:     "--network ID",
	Required: []string{"network"},
	About: "A long-running node of the Peer Exchange Protocol network ID. It accepts " +
		"peers on --listen (TCP), --ws (WebSocket) and --http (a browser page that joins " +
		"the same network, with its WebSocket at /ws); it bootstraps from each --connect " +
		"peer, dialing it again with backoff (1 s, doubling to 30 s) while the dial fails " +
		"and after the link drops; and it calls GetNewPeer until --want peers are " +
		"connected, --own of them links it opened itself. An introduced peer comes over WebRTC or over a direct TCP dial to the " +
		"address it advertises (--no-webrtc and --no-direct turn either off; without both, " +
		"introductions stay relayed sessions). Every data stream gets --hello, and --echo " +
		"writes each line back. A node that reaches none of its --connect peers within " +
		"--bootstrap-timeout or --duration exits 1 and says why; a --connect peer of " +
		"another network is not dialed again, and a node left with no other to reach " +
		"exits 1 naming both networks; SIGINT, SIGTERM or the " +
		"end of --duration otherwise close every link cleanly and exit 0. Output is one " +
		"event a line: logfmt, or JSON with --json; a summary event is the last. " +
		"The TURN password is best read from --turn-pass-file or PEX_TURN_PASS, off the " +
		"command line; with --turn-secret the node mints short-lived TURN credentials " +
		"instead (the TURN REST API, which pex turn --auth-secret and coturn's " +
		"use-auth-secret check), fresh for each of its upgrades and for each page load, " +
		"and the page asks for fresh ones before they expire. With --network-key FILE the " +
		"network is private: the node links only to nodes holding the same key (pex keygen " +
		"makes one), and its TCP, WebSocket and WebRTC links are encrypted and authenticated " +
		"under it; a node without it, with another, or the JS reference is refused, with a " +
		"network-key event (SECURITY.md).",
	Examples: []string{
		"pex node --network chat --listen 127.0.0.1:7000 --hello 'hi from A'",
		"pex node --network chat --connect 127.0.0.1:7000 --want 3 --ice-loopback",
		"pex node --network chat --listen 127.0.0.1:7000 --http 127.0.0.1:8080",
		"pex node --network chat --connect 192.0.2.7:7000 --ice-server stun:192.0.2.1:3478 --json",
		"pex node --network chat --listen 0.0.0.0:7000 --http 0.0.0.0:8080 --ice-server turn:192.0.2.1:3478 --turn-secret /etc/pex/turn-secret",
		"pex node --network fleet --listen 0.0.0.0:7000 --network-key /etc/pex/network.key",
	},
	Flags: func() *flag.FlagSet { return new(nodeOpts).flagSet() },
}

func (o *nodeOpts) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("pex node", flag.ContinueOnError)
	o.own = ownAuto
	fs.StringVar(&o.network, "network", "", "the network `ID`: only nodes of one network talk (required)")
	fs.StringVar(&o.listen, "listen", "", "accept TCP peers on `HOST:PORT` (port 0 picks a free one; default: none, no TCP listener)")
	fs.StringVar(&o.http, "http", "", "serve the browser page on `HOST:PORT` (WebSocket peers at /ws; default: none)")
	fs.StringVar(&o.ws, "ws", "", "accept WebSocket peers on `HOST:PORT` (binary messages carry the PXP stream; default: none)")
	fs.StringVar(&o.networkKeyFile, "network-key", "", "make the network private: link only to nodes holding the key in `FILE` (libp2p's swarm.key format; pex keygen makes one), every link encrypted and authenticated under it (default: none, open to whoever knows the network id)")
	fs.Var(&o.connect, "connect", "bootstrap from the peer at `HOST:PORT` (repeatable; retried with backoff; none by default: the node waits to be dialed)")
	fs.IntVar(&o.want, "want", 0, "call GetNewPeer until `N` peers are connected (needs peers to ask: --connect, --listen, --ws, --http or --state; 0, the default: never call it)")
	fs.Var(ownFlag{&o.own}, "own", "of --want, call GetNewPeer until `K` of the links are ones this node opened, however many others opened to it: peers that flood a node with links cannot stop it choosing its own (default: half of --want, rounded up; 0: none, links opened to it count alike)")
	fs.StringVar(&o.hello, "hello", "", "write `TEXT` and a newline on every new data stream (default: none, write nothing)")
	fs.BoolVar(&o.echo, "echo", false, "write each received line back prefixed with echo:")
	fs.IntVar(&o.maxPeers, "max-peers", 0, "`N` links at most (0: the library's default, 64)")
	fs.IntVar(&o.maxRelays, "max-relays", 0, "`N` relayed pairs carried at once (0: the library's default, 64)")
	fs.DurationVar(&o.bootstrapTimeout, "bootstrap-timeout", 0, "exit 1 when no --connect peer was reached within `D` (0: keep trying)")
	fs.DurationVar(&o.duration, "duration", 0, "stop after `D` (0: until SIGINT or SIGTERM)")
	fs.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics at /metrics and profiles at /debug/pprof/ on `HOST:PORT` (default: none)")
	fs.StringVar(&o.state, "state", "", "remember the peers that worked in `DIR` (pxp-peers.json) and bootstrap from them at the next start (default: none, remember nothing)")
	fs.IntVar(&o.anchors, "anchors", 2, "with --state, save the `N` longest-lived links this node opened that carried traffic, and dial them first at the next start, before the bootstrap (0: none)")
	fs.BoolVar(&o.noPortmap, "no-portmap", false, "do not ask the router (NAT-PMP, PCP, UPnP) to map the --listen port")
	fs.BoolVar(&o.json, "json", false, "print one JSON object a line")
	fs.BoolVar(&o.quiet, "quiet", false, cli.QuietUsage)
	cli.AddLogLevel(fs, &o.logLevel)
	o.addWebRTCFlags(fs)
	o.front.addFlags(fs)
	return fs
}

// turnPassEnv is the environment variable pex node reads the TURN
// password from when no flag gives it.
const turnPassEnv = "PEX_TURN_PASS"

// maxSecretFile bounds a password file.
const maxSecretFile = 4096

// nodeRules are the combinations of flags pex node refuses: each would
// be accepted and do nothing, or contradict another. given is cli.Given
// with, besides the flags, PEX_TURN_PASS when set and "ice-server
// turn:HOST:PORT" when a turn: or turns: server is given.
var nodeRules = []cli.Rule{
	{If: "want", Needs: []string{"connect", "listen", "ws", "http", "state"},
		Why: "GetNewPeer asks the node's peers for new ones, and a node that neither dials nor accepts peers has none to ask"},
	{If: "own", Needs: []string{"want"}, Why: "it counts links within --want"},
	{If: "bootstrap-timeout", Needs: []string{"connect"}, Why: "it bounds the time to reach a --connect peer"},
	{If: "anchors", Needs: []string{"state"}, Why: "the anchors are saved with --state"},
	{If: "turn-user", Needs: []string{"turn-pass", "turn-pass-file", turnPassEnv}, Why: "a TURN server takes a user with its password"},
	{If: "turn-pass", Needs: []string{"turn-user"}, Why: "a TURN server takes a password with its user"},
	{If: "turn-pass-file", Needs: []string{"turn-user"}, Why: "a TURN server takes a password with its user"},
	{If: "turn-user", Needs: []string{"ice-server turn:HOST:PORT"}, Why: "the credentials are for turn: and turns: servers, and none is given"},
	{If: "turn-pass", Excludes: []string{"turn-pass-file"}, Why: "the password is given twice"},
	{If: "turn-secret", Needs: []string{"ice-server turn:HOST:PORT"}, Why: "the credentials are for turn: and turns: servers, and none is given"},
	{If: "turn-secret", Excludes: []string{"turn-user", "turn-pass", "turn-pass-file"}, Why: "the turn: servers are given one kind of credential: short-lived ones minted from --turn-secret, or --turn-user's long-term one"},
	{If: "turn-ttl", Needs: []string{"turn-secret"}, Why: "it is the life of the credentials minted from --turn-secret"},
	// With --http the ICE servers and TURN user are the browser page's,
	// which uses WebRTC whatever the node does.
	{If: "no-webrtc", Excludes: []string{"ice-server", "turn-user", "turn-secret"}, Unless: []string{"http"}, Why: "they configure WebRTC, which --no-webrtc turns off (with --http they would be the browser page's)"},
	{If: "no-direct", Excludes: []string{"advertise"}, Why: "--no-direct advertises no TCP address"},
	{If: "network-key", Excludes: []string{"http"}, Why: "the page's browsers speak PXP without a network key (the JS reference has none): a private network's node would refuse every one of them"},
}

// check refuses a bad command line at start, naming each bad flag; it
// reads the TURN password from --turn-pass-file or PEX_TURN_PASS, or the
// secret from --turn-secret, and makes --state's directory.
func (o *nodeOpts) check(fs *flag.FlagSet, stderr io.Writer) error {
	c := cli.Checks{Cmd: "pex node"}
	if o.network == "" {
		c.Fail("network", "is required")
	}
	c.NoArgs(fs.Args())
	c.NonNegative("want", int64(o.want))
	if o.own != ownAuto && o.own > o.want {
		c.Fail("own", "%d is more than --want %d: it counts links within --want", o.own, o.want)
	}
	c.NonNegative("anchors", int64(o.anchors))
	c.NonNegative("max-peers", int64(o.maxPeers))
	c.NonNegative("max-relays", int64(o.maxRelays))
	c.NonNegativeDuration("bootstrap-timeout", o.bootstrapTimeout)
	c.NonNegativeDuration("duration", o.duration)
	for _, a := range o.connect {
		c.DialAddr("connect", a)
	}
	c.DialAddr("advertise", o.advertise)
	c.HostPort("listen", o.listen)
	c.HostPort("http", o.http)
	c.HostPort("ws", o.ws)
	c.HostPort("metrics", o.metrics)
	c.LogLevel(o.logLevel)
	given := cli.Given(fs)
	if os.Getenv(turnPassEnv) != "" {
		given[turnPassEnv] = true
	}
	for _, u := range o.iceServers {
		if !strings.HasPrefix(u, "stun:") && !strings.HasPrefix(u, "stuns:") && !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
			c.Fail("ice-server", "want a stun:, stuns:, turn: or turns: URL such as stun:192.0.2.1:3478, got %q", u)
		}
		if strings.HasPrefix(u, "turn") {
			given["ice-server turn:HOST:PORT"] = true
		}
	}
	c.Rules(given, nodeRules)
	o.front.check(&c, given)
	if o.turnPassFile != "" {
		if b, ok := c.ReadFile("turn-pass-file", o.turnPassFile, maxSecretFile); ok {
			line, _, _ := strings.Cut(string(b), "\n")
			if o.turnPass = strings.TrimSuffix(line, "\r"); o.turnPass == "" {
				c.Fail("turn-pass-file", "%s holds no password on its first line", o.turnPassFile)
			}
		}
	}
	if o.turnUser != "" && o.turnPass == "" {
		o.turnPass = os.Getenv(turnPassEnv)
	}
	o.checkTurnSecret(&c)
	o.checkNetworkKey(&c)
	if c.OK() {
		c.OutputDir("state", o.state, 0o700)
	}
	return c.Report(stderr)
}

// turnServers are the turn: and turns: servers among --ice-server.
func (o *nodeOpts) turnServers() []string {
	var us []string
	for _, u := range o.iceServers {
		if strings.HasPrefix(u, "turn") {
			us = append(us, u)
		}
	}
	return us
}

func runNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o nodeOpts
	fs := o.flagSet()
	if err := nodeCmd.ParseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if err := o.check(fs, stderr); err != nil {
		return err
	}
	o.logger = cli.Logger(o.logLevel, stderr)
	pr := cli.NewPrinter(stdout, o.json).Quiet(o.quiet)
	n := &node{opts: o, pr: pr}
	return n.run(ctx)
}
