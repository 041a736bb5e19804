package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/seed0021ed4d/pex/pxp"
	"github.com/seed0021ed4d/pex/pxp/webrtc"
)

type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type nodeOpts struct {
	network string
	listen  string
	connect listFlag
	want    int
	hello   string
	echo    bool
	json    bool

	iceLoopback bool
	iceServers  listFlag
	noWebRTC    bool
	advertise   string
	noDirect    bool
	ws          string
	http        string
	metrics     string
	maxPeers    int
}

// addWebRTCFlags registers the transport flags of node-like commands.
func (o *nodeOpts) addWebRTCFlags(fs *flag.FlagSet) {
	fs.BoolVar(&o.iceLoopback, "ice-loopback", false, "WebRTC over loopback addresses only (tests and demos on one machine)")
	fs.Var(&o.iceServers, "ice-server", "STUN/TURN server `URL` for WebRTC (repeatable)")
	fs.BoolVar(&o.noWebRTC, "no-webrtc", false, "keep introductions as relayed sessions")
	fs.StringVar(&o.advertise, "advertise", "", "TCP `HOST:PORT` told to peers for direct dials (default: the --listen address when it names an IP)")
	fs.BoolVar(&o.noDirect, "no-direct", false, "neither advertise a TCP address nor dial advertised ones")
}

// exchangeConfig builds the pxp configuration the flags ask for. listenAddr
// is the TCP address actually listened on, if any.
func (o *nodeOpts) exchangeConfig(listenAddr net.Addr) (*pxp.Config, error) {
	cfg := &pxp.Config{MaxPeers: o.maxPeers}
	if os.Getenv("PEX_DEBUG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if !o.noWebRTC {
		wc := &webrtc.Config{Loopback: o.iceLoopback, Logger: cfg.Logger, ICEServers: o.iceServers}
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
		if cfg.AdvertiseAddr == "" && listenAddr != nil {
			if ta, ok := listenAddr.(*net.TCPAddr); ok && !ta.IP.IsUnspecified() && ta.IP != nil {
				cfg.AdvertiseAddr = ta.String()
			}
		}
	}
	return cfg, nil
}

func runNode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o nodeOpts
	fs := flag.NewFlagSet("pex node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.network, "network", "", "network id (required)")
	fs.StringVar(&o.listen, "listen", "", "accept TCP peers on `HOST:PORT` (port 0 picks a free one)")
	fs.StringVar(&o.http, "http", "", "serve the browser page on `HOST:PORT` (WebSocket peers at /ws)")
	fs.StringVar(&o.ws, "ws", "", "accept WebSocket peers on `HOST:PORT` (binary messages carry the PXP stream)")
	fs.Var(&o.connect, "connect", "bootstrap from the peer at `HOST:PORT` (repeatable)")
	fs.IntVar(&o.want, "want", 0, "call GetNewPeer until `N` peers are connected")
	fs.StringVar(&o.hello, "hello", "", "write `TEXT` and a newline on every new data stream")
	fs.BoolVar(&o.echo, "echo", false, "write each received line back prefixed with echo:")
	fs.BoolVar(&o.json, "json", false, "print one JSON object a line")
	fs.IntVar(&o.maxPeers, "max-peers", 0, "links at most (0: the library's default, 64)")
	fs.StringVar(&o.metrics, "metrics", "", "serve profiles at /debug/pprof/ on `HOST:PORT`")
	o.addWebRTCFlags(fs)
	if err := fs.Parse(args); err != nil {
		return usageErr(err)
	}
	c := checks{cmd: "pex node"}
	if o.network == "" {
		c.fail("network", "is required")
	}
	c.noArgs(fs.Args())
	c.nonNegative("want", int64(o.want))
	c.nonNegative("max-peers", int64(o.maxPeers))
	for _, a := range o.connect {
		c.hostPort("connect", a)
	}
	c.hostPort("advertise", o.advertise)
	for _, u := range o.iceServers {
		if !strings.HasPrefix(u, "stun:") && !strings.HasPrefix(u, "stuns:") && !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
			c.fail("ice-server", "want a stun:, stuns:, turn: or turns: URL, got %q", u)
		}
	}
	if err := c.report(stderr); err != nil {
		return err
	}
	pr := &printer{w: stdout, json: o.json}
	n := &node{opts: o, pr: pr}
	return n.run(ctx)
}
