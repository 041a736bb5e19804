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
	"github.com/seed0021ed4d/pex/pxp/webrtc"
	"github.com/seed0021ed4d/pex/web"
)

type nodeOpts struct {
	network string
	listen  string
	connect cli.ListFlag
	want    int
	hello   string
	echo    bool
	json    bool

	iceLoopback bool
	iceServers  cli.ListFlag
	noWebRTC    bool
	advertise   string
	noDirect    bool
	ws          string
	http        string
	metrics     string
	state       string
	maxPeers    int
	maxRelays   int

	turnUser, turnPass string
	noPortmap          bool

	bootstrapTimeout time.Duration
	duration         time.Duration
}

// addWebRTCFlags registers the transport flags of node-like commands.
func (o *nodeOpts) addWebRTCFlags(fs *flag.FlagSet) {
	fs.BoolVar(&o.iceLoopback, "ice-loopback", false, "WebRTC over loopback addresses only (tests and demos on one machine)")
	fs.Var(&o.iceServers, "ice-server", "STUN/TURN server `URL` for WebRTC: stun:HOST:PORT, turn:HOST:PORT (repeatable)")
	fs.StringVar(&o.turnUser, "turn-user", "", "the user `NAME` for the turn: servers")
	fs.StringVar(&o.turnPass, "turn-pass", "", "the `PASSWORD` for the turn: servers")
	fs.BoolVar(&o.noWebRTC, "no-webrtc", false, "keep introductions as relayed sessions")
	fs.StringVar(&o.advertise, "advertise", "", "TCP `HOST:PORT` told to peers for direct dials (default: the --listen address when it names an IP)")
	fs.BoolVar(&o.noDirect, "no-direct", false, "neither advertise a TCP address nor dial advertised ones")
}

// page is what the browser page served with --http is told: the node's
// network and ICE servers (with the TURN credentials: whoever loads the
// page sees them).
func (o *nodeOpts) page() web.Page {
	p := web.Page{Network: o.network}
	for _, u := range o.iceServers {
		s := web.ICEServer{URLs: []string{u}}
		if strings.HasPrefix(u, "turn") {
			s.Username, s.Credential = o.turnUser, o.turnPass
		}
		p.ICEServers = append(p.ICEServers, s)
	}
	return p
}

// exchangeConfig builds the pxp configuration the flags ask for. listenAddr
// is the TCP address actually listened on, if any.
func (o *nodeOpts) exchangeConfig(listenAddr net.Addr) (*pxp.Config, error) {
	cfg := &pxp.Config{MaxPeers: o.maxPeers, MaxRelays: o.maxRelays}
	if os.Getenv("PEX_DEBUG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if !o.noWebRTC {
		wc := &webrtc.Config{Loopback: o.iceLoopback, Logger: cfg.Logger, ICEServers: o.iceServers, ICEUsername: o.turnUser, ICECredential: o.turnPass}
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
		"connected. An introduced peer comes over WebRTC or over a direct TCP dial to the " +
		"address it advertises (--no-webrtc and --no-direct turn either off; without both, " +
		"introductions stay relayed sessions). Every data stream gets --hello, and --echo " +
		"writes each line back. A node that reaches none of its --connect peers within " +
		"--bootstrap-timeout or --duration exits 1 and says why; SIGINT, SIGTERM or the " +
		"end of --duration otherwise close every link cleanly and exit 0. Output is one " +
		"event a line: logfmt, or JSON with --json.",
	Examples: []string{
		"pex node --network chat --listen 127.0.0.1:7000 --hello 'hi from A'",
		"pex node --network chat --connect 127.0.0.1:7000 --want 3 --ice-loopback",
		"pex node --network chat --listen 127.0.0.1:7000 --http 127.0.0.1:8080",
		"pex node --network chat --connect 192.0.2.7:7000 --ice-server stun:192.0.2.1:3478 --json",
	},
	Flags: func() *flag.FlagSet { return new(nodeOpts).flagSet() },
}

func (o *nodeOpts) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("pex node", flag.ContinueOnError)
	fs.StringVar(&o.network, "network", "", "the network `ID`: only nodes of one network talk (required)")
	fs.StringVar(&o.listen, "listen", "", "accept TCP peers on `HOST:PORT` (port 0 picks a free one)")
	fs.StringVar(&o.http, "http", "", "serve the browser page on `HOST:PORT` (WebSocket peers at /ws)")
	fs.StringVar(&o.ws, "ws", "", "accept WebSocket peers on `HOST:PORT` (binary messages carry the PXP stream)")
	fs.Var(&o.connect, "connect", "bootstrap from the peer at `HOST:PORT` (repeatable; retried with backoff)")
	fs.IntVar(&o.want, "want", 0, "call GetNewPeer until `N` peers are connected")
	fs.StringVar(&o.hello, "hello", "", "write `TEXT` and a newline on every new data stream")
	fs.BoolVar(&o.echo, "echo", false, "write each received line back prefixed with echo:")
	fs.IntVar(&o.maxPeers, "max-peers", 0, "`N` links at most (0: the library's default, 64)")
	fs.IntVar(&o.maxRelays, "max-relays", 0, "`N` relayed pairs carried at once (0: the library's default, 64)")
	fs.DurationVar(&o.bootstrapTimeout, "bootstrap-timeout", 0, "exit 1 when no --connect peer was reached within `D` (0: keep trying)")
	fs.DurationVar(&o.duration, "duration", 0, "stop after `D` (0: until SIGINT or SIGTERM)")
	fs.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics at /metrics and profiles at /debug/pprof/ on `HOST:PORT`")
	fs.StringVar(&o.state, "state", "", "remember the peers that worked in `DIR` (pxp-peers.json) and bootstrap from them at the next start")
	fs.BoolVar(&o.noPortmap, "no-portmap", false, "do not ask the router (NAT-PMP, PCP, UPnP) to map the --listen port")
	fs.BoolVar(&o.json, "json", false, "print one JSON object a line")
	o.addWebRTCFlags(fs)
	return fs
}

func runNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o nodeOpts
	fs := o.flagSet()
	if err := nodeCmd.ParseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	c := cli.Checks{Cmd: "pex node"}
	if o.network == "" {
		c.Fail("network", "is required")
	}
	c.NoArgs(fs.Args())
	c.NonNegative("want", int64(o.want))
	c.NonNegative("max-peers", int64(o.maxPeers))
	c.NonNegative("max-relays", int64(o.maxRelays))
	c.NonNegativeDuration("bootstrap-timeout", o.bootstrapTimeout)
	c.NonNegativeDuration("duration", o.duration)
	if o.bootstrapTimeout > 0 && len(o.connect) == 0 {
		c.Fail("bootstrap-timeout", "needs --connect")
	}
	for _, a := range o.connect {
		c.HostPort("connect", a)
	}
	c.HostPort("advertise", o.advertise)
	for _, u := range o.iceServers {
		if !strings.HasPrefix(u, "stun:") && !strings.HasPrefix(u, "stuns:") && !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
			c.Fail("ice-server", "want a stun:, stuns:, turn: or turns: URL, got %q", u)
		}
	}
	if err := c.Report(stderr); err != nil {
		return err
	}
	pr := cli.NewPrinter(stdout, o.json)
	n := &node{opts: o, pr: pr}
	return n.run(ctx)
}
