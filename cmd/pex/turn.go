package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"

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
		"TURN needs credentials: each user may allocate, at most " +
		"--max-allocations at once (and --max-total over all users). The users come from " +
		"--user-file (a NAME:PASSWORD a line), from " + turnUsersEnv + " in the environment " +
		"(NAME:PASSWORD entries separated by commas or newlines) and from --user " +
		"NAME:PASSWORD, which ps and the shell's history show. With --auth-secret FILE it " +
		"also takes short-lived credentials minted from the secret in FILE (the TURN REST " +
		"API: user name EXPIRY:NAME, password base64 HMAC-SHA1 of it; coturn's " +
		"use-auth-secret), as pex node --turn-secret mints them: one whose expiry has " +
		"passed cannot allocate, and NAME's allocations count against its quota. A " +
		"refused credential prints an auth-refused event. Relays to loopback, " +
		"link-local, private and unspecified addresses are refused unless --allow-private. " +
		"Peers use it with pex node --ice-server stun:HOST:PORT --ice-server " +
		"turn:HOST:PORT --turn-user NAME --turn-pass-file FILE, or --turn-secret FILE. " +
		"--log-level debug logs " +
		"each STUN and TURN request pion/turn handles to stderr. At the end (SIGINT or " +
		"SIGTERM) it prints a summary event.",
	Required: []string{"listen", "relay-ip"},
	Examples: []string{
		"pex turn --listen 0.0.0.0:3478 --relay-ip 203.0.113.7 --user-file /etc/pex/turn-users",
		"pex turn --listen 127.0.0.1:3478 --relay-ip 127.0.0.1 --user lab:lab --allow-private --json",
		"pex turn --listen 0.0.0.0:3478 --relay-ip 203.0.113.7 --auth-secret /etc/pex/turn-secret",
	},
	Flags: func() *flag.FlagSet { return new(turnOpts).flagSet() },
}

type turnOpts struct {
	listen, relayIP, realm string
	users                  cli.ListFlag
	userFile               string
	authSecret             string // --auth-secret's file
	maxAllocations         int
	maxTotal               int
	allowPrivate           bool
	json, quiet            bool
	logLevel               string
}

// turnUsersEnv is the environment variable pex turn reads users from.
const turnUsersEnv = "PEX_TURN_USERS"

// maxUserFile bounds --user-file.
const maxUserFile = 1 << 20

func (o *turnOpts) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("pex turn", flag.ContinueOnError)
	fs.StringVar(&o.listen, "listen", "", "serve STUN and TURN on UDP `HOST:PORT` (3478 is the standard port; required)")
	fs.StringVar(&o.relayIP, "relay-ip", "", "the public `IP` relayed addresses are given (required)")
	fs.Var(&o.users, "user", "a TURN user as `NAME:PASSWORD`, visible to ps and in the shell's history: prefer --user-file or "+turnUsersEnv+" (repeatable; with none of the three nor --auth-secret: STUN only)")
	fs.StringVar(&o.userFile, "user-file", "", "read TURN users from `FILE`, one NAME:PASSWORD a line (blank lines and lines starting with # skipped; default: none)")
	fs.StringVar(&o.authSecret, "auth-secret", "", "take short-lived TURN REST credentials minted from the secret in `FILE` (its bytes, white space around them trimmed; at least 16), as pex node --turn-secret and coturn's static-auth-secret (default: none)")
	fs.StringVar(&o.realm, "realm", "pex", "the TURN `REALM`")
	fs.IntVar(&o.maxAllocations, "max-allocations", 8, "relayed allocations one user may hold at once (`N`)")
	fs.IntVar(&o.maxTotal, "max-total", 1024, "relayed allocations over all users (`N`)")
	fs.BoolVar(&o.allowPrivate, "allow-private", false, "relay to loopback, link-local and private addresses too (labs)")
	fs.BoolVar(&o.json, "json", false, "print one JSON object a line")
	fs.BoolVar(&o.quiet, "quiet", false, cli.QuietUsage)
	cli.AddLogLevel(fs, &o.logLevel)
	return fs
}

// check refuses a bad command line at start, naming each bad flag, and
// gathers the users from --user-file, PEX_TURN_USERS and --user, and the
// secret from --auth-secret.
func (o *turnOpts) check(fs *flag.FlagSet, stderr io.Writer) (users map[string]string, secret []byte, err error) {
	c := cli.Checks{Cmd: "pex turn"}
	c.NoArgs(fs.Args())
	if o.listen == "" {
		c.Fail("listen", "is required")
	}
	c.HostPort("listen", o.listen)
	if net.ParseIP(o.relayIP) == nil {
		c.Fail("relay-ip", "want an IP address such as 203.0.113.7, got %q", o.relayIP)
	}
	users = map[string]string{}
	from := map[string]string{} // user -> where it was given
	add := func(where, entry string, fail func(string, ...any)) {
		name, pass, ok := strings.Cut(entry, ":")
		switch {
		case !ok || name == "" || pass == "":
			fail("want NAME:PASSWORD")
		case from[name] != "":
			fail("user %q is given twice (and in %s)", name, from[name])
		default:
			users[name], from[name] = pass, where
		}
	}
	if o.userFile != "" {
		if b, ok := c.ReadFile("user-file", o.userFile, maxUserFile); ok {
			for i, line := range strings.Split(string(b), "\n") {
				line = strings.TrimSpace(line)
				if line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				// The line is not echoed: it holds a password.
				add("--user-file", line, func(format string, args ...any) {
					c.Fail("user-file", "%s line %d: %s", o.userFile, i+1, fmt.Sprintf(format, args...))
				})
			}
		}
	}
	for i, e := range strings.FieldsFunc(os.Getenv(turnUsersEnv), func(r rune) bool { return r == ',' || r == '\n' }) {
		if e = strings.TrimSpace(e); e != "" {
			add(turnUsersEnv, e, func(format string, args ...any) {
				c.Env(turnUsersEnv, "entry %d: %s", i+1, fmt.Sprintf(format, args...))
			})
		}
	}
	for _, u := range o.users {
		add("--user", u, func(format string, args ...any) {
			c.Fail("user", "%s, got %q", fmt.Sprintf(format, args...), u)
		})
	}
	if o.authSecret != "" {
		secret = readSecret(&c, "auth-secret", o.authSecret)
	}
	if o.maxAllocations < 1 || o.maxTotal < 1 {
		c.Fail("max-allocations", "--max-allocations and --max-total must be at least 1")
	}
	c.LogLevel(o.logLevel)
	return users, secret, c.Report(stderr)
}

func runTurn(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o turnOpts
	fs := o.flagSet()
	if err := turnCmd.ParseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	users, secret, err := o.check(fs, stderr)
	if err != nil {
		return err
	}
	relay := net.ParseIP(o.relayIP)
	pc, err := net.ListenPacket("udp", o.listen)
	if err != nil {
		return cli.BindError("listen", o.listen, err)
	}
	pr := cli.NewPrinter(stdout, o.json).Quiet(o.quiet)
	start := time.Now()
	var allocations, open, refused atomic.Int64
	srv, err := webrtc.NewTURNServer(webrtc.TURNConfig{
		PacketConn: pc, RelayIP: relay, Realm: o.realm, Users: users, AuthSecret: secret,
		MaxAllocations: o.maxAllocations, MaxTotal: o.maxTotal, AllowPrivate: o.allowPrivate,
		Logger: cli.Logger(o.logLevel, stderr),
		OnAllocation: func(user string, client, relay net.Addr) {
			allocations.Add(1)
			open.Add(1)
			pr.Event("allocation", "user", user, "client", client.String(), "relay", relay.String())
		},
		OnAllocationClosed: func(user string, client net.Addr) {
			open.Add(-1)
			pr.Event("allocation-closed", "user", user, "client", client.String())
		},
		// A client repeating a refused credential is printed five
		// times a window, then summed up (cli.Printer.Limited).
		OnAuthRefused: func(user string, client net.Addr, method, reason string) {
			refused.Add(1)
			pr.Limited("auth-refused "+hostOf(client), "auth-refused", "user", user, "client", client.String(), "method", method, "reason", reason)
		},
	})
	if err != nil {
		pc.Close()
		return err
	}
	pr.Event("listening", "addr", pc.LocalAddr().String(), "transport", "stun/turn", "relay_ip", relay.String(), "users", len(users), "auth_secret", secret != nil)
	flushUntil(ctx, pr)
	openAtEnd := open.Load()
	err = srv.Close()
	pr.Flush(true)
	f := []any{"elapsed_s", cli.Seconds(time.Since(start)), "stop", "canceled", "users", len(users),
		"allocations", allocations.Load(), "open_at_end", openAtEnd, "auth_refused", refused.Load()}
	var se *cli.SignalError
	if errors.As(context.Cause(ctx), &se) {
		f[3] = "signal"
		f = append(f, "signal", se.Signal.String())
	}
	if err != nil {
		f = append(f, "error", err.Error())
	}
	pr.Event("summary", f...)
	return err
}

// flushUntil sums up repeated events when their window ends, until ctx
// ends.
func flushUntil(ctx context.Context, pr *cli.Printer) {
	t := time.NewTicker(cli.RepeatWindow)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pr.Flush(false)
		}
	}
}

// hostOf is the host of a UDP address, for keys by client.
func hostOf(a net.Addr) string {
	if ua, ok := a.(*net.UDPAddr); ok {
		return ua.IP.String()
	}
	return a.String()
}
