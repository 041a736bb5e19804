package main

import (
	"context"
	"flag"
	"io"
	"net"
	"strings"
	"sync"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"
)

var turnCmd = &command{
	name:    "turn",
	summary: "a STUN and TURN server for the operators of public relays",
	lead:    "--listen HOST:PORT --relay-ip IP",
	about: "Serves STUN (a peer learns the address it is seen from, for its server-reflexive " +
		"candidates) and TURN (a peer behind a NAT that maps per destination gets a relayed " +
		"address, so that every pair of peers can connect) on one UDP port, with pion/turn. " +
		"--relay-ip is the public address relayed allocations are given (this host's). " +
		"TURN needs credentials: each --user NAME:PASSWORD may allocate, at most " +
		"--max-allocations at once (and --max-total over all users). Relays to loopback, " +
		"link-local, private and unspecified addresses are refused unless --allow-private. " +
		"Peers use it with pex node --ice-server stun:HOST:PORT --ice-server " +
		"turn:HOST:PORT --turn-user NAME --turn-pass PASSWORD.",
	required: []string{"listen", "relay-ip"},
	examples: []string{
		"pex turn --listen 0.0.0.0:3478 --relay-ip 203.0.113.7 --user alice:s3cret",
		"pex turn --listen 127.0.0.1:3478 --relay-ip 127.0.0.1 --user lab:lab --allow-private --json",
	},
	flags: func() *flag.FlagSet { return new(turnOpts).flagSet() },
}

type turnOpts struct {
	listen, relayIP, realm string
	users                  listFlag
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
	if err := turnCmd.parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	c := checks{cmd: "pex turn"}
	c.noArgs(fs.Args())
	if o.listen == "" {
		c.fail("listen", "is required")
	}
	c.hostPort("listen", o.listen)
	relay := net.ParseIP(o.relayIP)
	if relay == nil {
		c.fail("relay-ip", "want an IP address, got %q", o.relayIP)
	}
	keys := map[string][]byte{}
	for _, u := range o.users {
		name, pass, ok := strings.Cut(u, ":")
		if !ok || name == "" || pass == "" {
			c.fail("user", "want NAME:PASSWORD, got %q", u)
			continue
		}
		keys[name] = turn.GenerateAuthKey(name, o.realm, pass)
	}
	if o.maxAllocations < 1 || o.maxTotal < 1 {
		c.fail("max-allocations", "--max-allocations and --max-total must be at least 1")
	}
	if err := c.report(stderr); err != nil {
		return err
	}
	pc, err := net.ListenPacket("udp", o.listen)
	if err != nil {
		return err
	}
	pr := &printer{w: stdout, json: o.json}
	q := &turnQuota{perUser: o.maxAllocations, total: o.maxTotal, held: map[string]int{}}
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm:         o.realm,
		LoggerFactory: quietTurnLogs{},
		AuthHandler: func(ra *turn.RequestAttributes) (string, []byte, bool) {
			key, ok := keys[ra.Username]
			return ra.Username, key, ok
		},
		QuotaHandler: q.take,
		EventHandler: turn.EventHandler{
			OnAllocationCreated: func(src, _ net.Addr, _, user, _ string, relayAddr net.Addr, _ int) {
				q.hold(user)
				pr.event("allocation", "user", user, "client", src.String(), "relay", relayAddr.String())
			},
			OnAllocationDeleted: func(src, _ net.Addr, _, user, _ string) {
				q.release(user)
				pr.event("allocation-closed", "user", user, "client", src.String())
			},
		},
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn:            pc,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{RelayAddress: relay, Address: hostOf(o.listen)},
			PermissionHandler: func(_ net.Addr, peer net.IP) bool {
				return o.allowPrivate || relayable(peer)
			},
		}},
	})
	if err != nil {
		pc.Close()
		return err
	}
	pr.event("listening", "addr", pc.LocalAddr().String(), "transport", "stun/turn", "relay_ip", relay.String(), "users", len(keys))
	<-ctx.Done()
	return srv.Close()
}

// relayable reports whether a TURN allocation may send to ip: not to this
// network's own ranges, which a relay on the internet must not open to
// whoever holds credentials.
func relayable(ip net.IP) bool {
	return !(ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast())
}

// turnQuota bounds allocations per user and over all. The server asks it
// before each allocation, and tells it when one is made and when one ends.
type turnQuota struct {
	mu             sync.Mutex
	perUser, total int
	held           map[string]int
	all            int
}

func (q *turnQuota) take(user, _ string, _ net.Addr) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.held[user] < q.perUser && q.all < q.total
}

// hold counts an allocation made (the server makes them one at a time, so
// take and hold cannot interleave).
func (q *turnQuota) hold(user string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.held[user]++
	q.all++
}

func (q *turnQuota) release(user string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.held[user] > 0 {
		q.held[user]--
		q.all--
	}
	if q.held[user] == 0 {
		delete(q.held, user)
	}
}

// quietTurnLogs drops pion/turn's logs.
type quietTurnLogs struct{}

func (quietTurnLogs) NewLogger(string) logging.LeveledLogger {
	return logging.NewDefaultLeveledLoggerForScope("", logging.LogLevelDisabled, io.Discard)
}
