package main

import (
	"context"
	"flag"
	"io"
	"net"
	"strings"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"

	"github.com/seed0021ed4d/pex/pxp/webrtc"
)

var turnCmd = &cli.Command{
	Name:    "turn",
	Summary: "a STUN and TURN server for the operators of public relays",
	Lead:    "--listen HOST:PORT --relay-ip IP",
	About: "Serves STUN (a peer learns the address it is seen from, for its server-reflexive " +
		"candidates) and TURN (a peer behind a NAT that maps per destination gets a relayed " +
		"address, so that every pair of peers can connect) on one UDP port, with pion/turn. " +
		"--relay-ip is the public address relayed allocations are given (this host's). " +
		"TURN needs credentials: each --user NAME:PASSWORD may allocate, at most " +
		"--max-allocations at once (and --max-total over all users). Relays to loopback, " +
		"link-local, private and unspecified addresses are refused unless --allow-private. " +
		"Peers use it with pex node --ice-server stun:HOST:PORT --ice-server " +
		"turn:HOST:PORT --turn-user NAME --turn-pass PASSWORD.",
	Required: []string{"listen", "relay-ip"},
	Examples: []string{
		"pex turn --listen 0.0.0.0:3478 --relay-ip 203.0.113.7 --user alice:s3cret",
		"pex turn --listen 127.0.0.1:3478 --relay-ip 127.0.0.1 --user lab:lab --allow-private --json",
	},
	Flags: func() *flag.FlagSet { return new(turnOpts).flagSet() },
}

type turnOpts struct {
	listen, relayIP, realm string
	users                  cli.ListFlag
	maxAllocations         int
	maxTotal               int
	allowPrivate           bool
	json                   bool
}

func (o *turnOpts) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("pex turn", flag.ContinueOnError)
	fs.StringVar(&o.listen, "listen", "", "serve STUN and TURN on UDP `HOST:PORT` (3478 is the standard port)")
	fs.StringVar(&o.relayIP, "relay-ip", "", "the public `IP` relayed addresses are given (required)")
	fs.Var(&o.users, "user", "a TURN user as `NAME:PASSWORD` (repeatable; none: STUN only)")
	fs.StringVar(&o.realm, "realm", "pex", "the TURN `REALM`")
	fs.IntVar(&o.maxAllocations, "max-allocations", 8, "relayed allocations one user may hold at once (`N`)")
	fs.IntVar(&o.maxTotal, "max-total", 1024, "relayed allocations over all users (`N`)")
	fs.BoolVar(&o.allowPrivate, "allow-private", false, "relay to loopback, link-local and private addresses too (labs)")
	fs.BoolVar(&o.json, "json", false, "print one JSON object a line")
	return fs
}

func runTurn(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o turnOpts
	fs := o.flagSet()
	if err := turnCmd.ParseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	c := cli.Checks{Cmd: "pex turn"}
	c.NoArgs(fs.Args())
	if o.listen == "" {
		c.Fail("listen", "is required")
	}
	c.HostPort("listen", o.listen)
	relay := net.ParseIP(o.relayIP)
	if relay == nil {
		c.Fail("relay-ip", "want an IP address, got %q", o.relayIP)
	}
	users := map[string]string{}
	for _, u := range o.users {
		name, pass, ok := strings.Cut(u, ":")
		if !ok || name == "" || pass == "" {
			c.Fail("user", "want NAME:PASSWORD, got %q", u)
			continue
		}
		users[name] = pass
	}
	if o.maxAllocations < 1 || o.maxTotal < 1 {
		c.Fail("max-allocations", "--max-allocations and --max-total must be at least 1")
	}
	if err := c.Report(stderr); err != nil {
		return err
	}
	pc, err := net.ListenPacket("udp", o.listen)
	if err != nil {
		return err
	}
	pr := cli.NewPrinter(stdout, o.json)
	srv, err := webrtc.NewTURNServer(webrtc.TURNConfig{
		PacketConn: pc, RelayIP: relay, Realm: o.realm, Users: users,
		MaxAllocations: o.maxAllocations, MaxTotal: o.maxTotal, AllowPrivate: o.allowPrivate,
		OnAllocation: func(user string, client, relay net.Addr) {
			pr.Event("allocation", "user", user, "client", client.String(), "relay", relay.String())
		},
		OnAllocationClosed: func(user string, client net.Addr) {
			pr.Event("allocation-closed", "user", user, "client", client.String())
		},
	})
	if err != nil {
		pc.Close()
		return err
	}
	pr.Event("listening", "addr", pc.LocalAddr().String(), "transport", "stun/turn", "relay_ip", relay.String(), "users", len(users))
	<-ctx.Done()
	return srv.Close()
}
