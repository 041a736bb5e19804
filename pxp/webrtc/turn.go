package webrtc

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"

	"github.com/seed0021ed4d/pex/turnrest"
)

// TURNConfig configures a TURNServer.
type TURNConfig struct {
	// PacketConn is the UDP socket STUN and TURN are served on (required).
	PacketConn net.PacketConn
	// RelayIP is the public address relayed allocations are given
	// (required); relays are bound on the socket's host.
	RelayIP net.IP
	// Realm defaults to "pex".
	Realm string
	// Users are the TURN users and their passwords (RFC 8489's long-term
	// credentials).
	Users map[string]string
	// AuthSecret, when set, is the secret shared with whoever mints TURN
	// REST credentials (package turnrest; coturn's static-auth-secret): a
	// user name "EXPIRY:NAME" with the password the secret gives it may
	// allocate until EXPIRY, and its allocations count against NAME's
	// quota. Beside Users: a name with a colon is a REST one. With
	// neither, the server serves STUN only.
	AuthSecret []byte
	// Now is the clock REST credentials' expiries are checked against;
	// nil means time.Now.
	Now func() time.Time
	// OnAuthRefused, when set, reports a request whose credential was
	// refused: the user name it gave, the client, the STUN method
	// ("Allocate", "Refresh", ...) and the reason (RefusedExpired, ...).
	// A client's first request, sent without credentials to learn the
	// realm and nonce, is answered with a challenge, not refused.
	OnAuthRefused func(user string, client net.Addr, method, reason string)
	// MaxAllocations bounds the relayed allocations one user holds at
	// once (default 8), MaxTotal those over all users (default 1024); zero
	// or negative means the default.
	MaxAllocations, MaxTotal int
	// AllowPrivate lets allocations relay to loopback, link-local,
	// private and unspecified addresses, which a relay on the internet
	// must not open to whoever holds credentials (labs only).
	AllowPrivate bool
	// OnAllocation and OnAllocationClosed, when set, report allocations.
	OnAllocation       func(user string, client, relay net.Addr)
	OnAllocationClosed func(user string, client net.Addr)
	// Logger receives pion/turn's own log lines (each request at debug,
	// refused permissions at info, failures at warn and error; its trace
	// at LevelTrace), with the attribute scope; nil means silent.
	Logger *slog.Logger
}

// TURNServer is a STUN and TURN server (pion/turn) for the operators of
// public relays: peers behind NATs that map per destination need one to
// meet at all.
type TURNServer struct {
	srv *turn.Server
}

// NewTURNServer starts serving on cfg.PacketConn until Close.
func NewTURNServer(cfg TURNConfig) (*TURNServer, error) {
	if cfg.PacketConn == nil || cfg.RelayIP == nil {
		return nil, errors.New("webrtc: TURN needs a PacketConn and a RelayIP")
	}
	if n := len(cfg.AuthSecret); n > 0 && (n < turnrest.MinSecretLen || n > turnrest.MaxSecretLen) {
		return nil, fmt.Errorf("webrtc: AuthSecret: %w", turnrest.ErrSecret)
	}
	if len(cfg.AuthSecret) == 0 {
		cfg.AuthSecret = nil
	}
	cfg.Realm = cmp.Or(cfg.Realm, "pex")
	cfg.MaxAllocations = positiveOr(cfg.MaxAllocations, 8)
	cfg.MaxTotal = positiveOr(cfg.MaxTotal, 1024)
	auth := &turnAuth{realm: cfg.Realm, keys: map[string][]byte{}, secret: cfg.AuthSecret, now: cfg.Now, refused: cfg.OnAuthRefused}
	if auth.now == nil {
		auth.now = time.Now
	}
	for name, pass := range cfg.Users {
		auth.keys[name] = turn.GenerateAuthKey(name, cfg.Realm, pass)
	}
	q := &turnQuota{perUser: cfg.MaxAllocations, total: cfg.MaxTotal, held: map[string]int{}}
	host, _, err := net.SplitHostPort(cfg.PacketConn.LocalAddr().String())
	if err != nil {
		return nil, err
	}
	var logs logging.LoggerFactory = quietLogger{}
	if cfg.Logger != nil {
		logs = slogFactory{cfg.Logger}
	}
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm:         cfg.Realm,
		LoggerFactory: logs,
		AuthHandler:   auth.handle,
		QuotaHandler:  q.take,
		EventHandler: turn.EventHandler{
			OnAuth: auth.onAuth,
			OnAllocationCreated: func(src, _ net.Addr, _, user, _ string, relay net.Addr, _ int) {
				q.hold(user)
				if cfg.OnAllocation != nil {
					cfg.OnAllocation(user, src, relay)
				}
			},
			OnAllocationDeleted: func(src, _ net.Addr, _, user, _ string) {
				q.release(user)
				if cfg.OnAllocationClosed != nil {
					cfg.OnAllocationClosed(user, src)
				}
			},
		},
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn:            cfg.PacketConn,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{RelayAddress: cfg.RelayIP, Address: host},
			PermissionHandler: func(_ net.Addr, peer net.IP) bool {
				return cfg.AllowPrivate || relayable(peer)
			},
		}},
	})
	if err != nil {
		return nil, err
	}
	return &TURNServer{srv: srv}, nil
}

// Close stops the server and closes its socket.
func (s *TURNServer) Close() error { return s.srv.Close() }

// relayable reports whether an allocation may send to ip: a public
// address (publicAddr), the rule remote candidates are held to too.
func relayable(ip net.IP) bool {
	a, ok := netip.AddrFromSlice(ip)
	return ok && publicAddr(a.Unmap())
}

// turnQuota bounds allocations per user and over all. The server asks it
// before each allocation, and tells it when one is made and when one
// ends; it makes them one at a time, so take and hold cannot interleave.
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

// positiveOr returns v when it is positive and d otherwise.
func positiveOr(v, d int) int {
	if v > 0 {
		return v
	}
	return d
}
