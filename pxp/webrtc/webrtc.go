// Package webrtc upgrades PXP introductions to WebRTC data channels with
// pion, the way peer-exchange 2.2.0 does it with simple-peer 6 (docs/pxp-wire.md §6 and
// §11): the requester creates one reliable, ordered data channel with a
// random 40-hex label before its offer; signals travel in `upgrade` messages
// over the relayed session as simple-peer's JSON:
//
//	{"type":"offer","sdp":"v=0\r\n..."}
//	{"type":"answer","sdp":"..."}
//	{"candidate":{"candidate":"candidate:...","sdpMLineIndex":0,"sdpMid":"0"}}
//
// The offer or answer goes out before any local candidate (the JS answerer
// builds its peer from the first upgrade it gets); remote candidates that
// arrive before the description are kept until it is set; end-of-candidates
// is never sent (simple-peer destroys the peer on {candidate:null}). Each
// data channel message is a chunk of the nested PXP byte stream, with no
// framing of its own.
//
// An established link's consent checks (RFC 7675) are paced: the ICE
// controlling side checks once per Config.ConsentInterval, the other only
// answers, so an idle link costs little; a link that hears nothing from
// its peer for Config.ConsentTimeout is closed, and its Read and Write
// return ErrConsentLost.
//
// This is the only package of pex that imports pion.
package webrtc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/stun/v4"
	"github.com/pion/webrtc/v4"

	"github.com/seed0021ed4d/pex/pxp"
)

// Upgrader is a pxp.Upgrader for WebRTC.
type Upgrader struct {
	se        webrtc.SettingEngine // each upgrade's, but for its network
	nets      sharedNet
	serverIPs []netip.Addr // the ICE servers' addresses
	certs     certStore    // the DTLS certificate of every upgrade
	cfg       Config
	servers   []webrtc.ICEServer
}

var _ pxp.Upgrader = (*Upgrader)(nil)

// New returns an Upgrader. cfg may be nil for the defaults.
func New(cfg *Config) (*Upgrader, error) {
	c := cfg.withDefaults()
	if c.Timeout < 0 {
		return nil, errors.New("webrtc: negative Timeout")
	}
	if c.MaxBindingRequests < 0 || c.MaxBindingRequests > 1000 || c.MaxRemoteCandidates < 0 {
		return nil, errors.New("webrtc: MaxBindingRequests must be 0 to 1000, MaxRemoteCandidates not negative")
	}
	if c.MaxPendingCandidates < 0 {
		return nil, errors.New("webrtc: negative MaxPendingCandidates")
	}
	if c.ConsentTimeout < 0 || c.ConsentTimeout < 3*c.ConsentInterval {
		return nil, errors.New("webrtc: ConsentTimeout must be at least three ConsentIntervals")
	}
	var servers []webrtc.ICEServer
	for _, u := range c.ICEServers {
		if _, err := stun.ParseURI(u); err != nil {
			return nil, fmt.Errorf("webrtc: ICE server %q: %w", u, err)
		}
		s := webrtc.ICEServer{URLs: []string{u}}
		if isTURN(u) {
			s.Username, s.Credential = c.ICEUsername, c.ICECredential
		}
		servers = append(servers, s)
	}
	var se webrtc.SettingEngine
	se.DetachDataChannels()
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICEMaxBindingRequests(uint16(c.MaxBindingRequests))
	// How long a working pair of each kind waits for a better one before it
	// is nominated. pion's defaults (host 0, srflx 500 ms, prflx 1 s,
	// relay 2 s) made every introduction across a NAT take 0.6 to 1 s;
	// a punched path is usually found within a few checks, so server- and
	// peer-reflexive pairs wait 200 ms, and a relayed pair keeps its 2 s,
	// in which any direct path that can be found has been.
	se.SetSrflxAcceptanceMinWait(200 * time.Millisecond)
	se.SetPrflxAcceptanceMinWait(200 * time.Millisecond)
	// Consent: pion's keep-alive stays at its 2 s (its check loop never
	// waits longer anyway); consentPacer holds what ConsentInterval says.
	disconnected, failed := iceTimeouts(c.ConsentTimeout)
	se.SetICETimeouts(disconnected, failed, 2*time.Second)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	se.LoggerFactory = quietLogger{}
	if c.Loopback {
		se.SetIncludeLoopbackCandidate(true)
		loop := func(ip net.IP) bool { return ip.IsLoopback() }
		se.SetIPFilter(loop)
		se.SetRemoteIPFilter(loop)
	}
	return &Upgrader{se: se, cfg: c, servers: servers, serverIPs: serverAddrs(c.ICEServers)}, nil
}

// serverAddrs resolves the ICE servers' hosts (a name that does not
// resolve within two seconds is left out).
func serverAddrs(urls []string) []netip.Addr {
	var out []netip.Addr
	for _, u := range urls {
		uri, err := stun.ParseURI(u)
		if err != nil {
			continue
		}
		if ip, err := netip.ParseAddr(uri.Host); err == nil {
			out = append(out, ip.Unmap())
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		ips, _ := net.DefaultResolver.LookupNetIP(ctx, "ip", uri.Host)
		cancel()
		for _, ip := range ips {
			out = append(out, ip.Unmap())
		}
	}
	return out
}

// iceServers are the ICE servers of one upgrade: with
// Config.ICECredentials, the TURN servers get the credentials it gives
// now.
func (u *Upgrader) iceServers() []webrtc.ICEServer {
	if u.cfg.ICECredentials == nil {
		return u.servers
	}
	user, cred := u.cfg.ICECredentials()
	servers := slices.Clone(u.servers)
	for i, s := range servers {
		if isTURN(s.URLs[0]) {
			servers[i].Username, servers[i].Credential = user, cred
		}
	}
	return servers
}

// isTURN reports whether an ICE server URL is a turn: or turns: one.
func isTURN(url string) bool {
	uri, err := stun.ParseURI(url)
	return err == nil && (uri.Scheme == stun.SchemeTypeTURN || uri.Scheme == stun.SchemeTypeTURNS)
}

// Transport returns "webrtc".
func (u *Upgrader) Transport() string { return "webrtc" }

// Start begins an upgrade. See pxp.Upgrader.
func (u *Upgrader) Start(ctx context.Context, initiator bool, send func(json.RawMessage) error) (pxp.Upgrade, error) {
	// Each upgrade's sockets are held to its own budget (budget.go), over
	// the interfaces the Upgrader keeps.
	n, err := u.nets.get()
	if err != nil {
		return nil, fmt.Errorf("webrtc: %w", err)
	}
	budget := newCheckBudget(u.serverIPs)
	pace := &consentPacer{every: max(u.cfg.ConsentInterval, 0)}
	se := u.se
	se.SetNet(budgetNet{Net: n, sendRules: sendRules{b: budget, pace: pace}})
	cert, err := u.certs.get()
	if err != nil {
		return nil, err
	}
	// Data channels only: no codecs, and no media interceptors (pion's
	// defaults tick every 100 ms on every PeerConnection, for RTP that
	// never flows); one certificate per Upgrader, not one per upgrade.
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(&webrtc.MediaEngine{}),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
	pc, err := api.NewPeerConnection(webrtc.Configuration{ICEServers: u.iceServers(), Certificates: []webrtc.Certificate{cert}})
	if err != nil {
		return nil, fmt.Errorf("webrtc: %w", err)
	}
	s := &session{u: u, initiator: initiator, send: send, pc: pc, budget: budget, pace: pace, open: make(chan *dcConn, 1), failed: make(chan error, 1)}
	pc.OnICECandidate(s.onLocalCandidate)
	log := u.cfg.Logger.With("initiator", initiator)
	pc.OnICEConnectionStateChange(func(st webrtc.ICEConnectionState) {
		log.Debug("webrtc: ICE state", "state", st.String())
	})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		log.Debug("webrtc: connection state", "state", st.String())
		if st == webrtc.PeerConnectionStateFailed {
			s.broken()
		}
	})
	if initiator {
		dc, err := pc.CreateDataChannel(randomLabel(), nil)
		if err != nil {
			pc.Close()
			return nil, fmt.Errorf("webrtc: %w", err)
		}
		s.watch(dc)
		offer, err := pc.CreateOffer(nil)
		if err == nil {
			err = pc.SetLocalDescription(offer)
		}
		if err != nil {
			pc.Close()
			return nil, fmt.Errorf("webrtc: offer: %w", err)
		}
		if err := s.sendDescription(offer); err != nil {
			pc.Close()
			return nil, err
		}
	} else {
		pc.OnDataChannel(func(dc *webrtc.DataChannel) {
			s.watch(dc)
		})
	}
	return s, nil
}

func randomLabel() string {
	b := make([]byte, 20)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// quietLogger silences pion's own logging, unless PEX_DEBUG_PION names
// the scopes to log, in full (trace level), on stderr ("ice", "ice,dtls",
// "all").
type quietLogger struct{}

func (quietLogger) NewLogger(scope string) logging.LeveledLogger {
	if want := os.Getenv("PEX_DEBUG_PION"); want == "all" || slices.Contains(strings.Split(want, ","), scope) {
		return logging.NewDefaultLeveledLoggerForScope(scope, logging.LogLevelTrace, os.Stderr)
	}
	return logging.NewDefaultLeveledLoggerForScope("", logging.LogLevelDisabled, io.Discard)
}

// slogFactory hands pion's components loggers that write to one
// *slog.Logger, each line with pion's scope ("turn", "ice"). pion's
// levels map to slog's, its trace below slog's debug (LevelTrace).
type slogFactory struct{ l *slog.Logger }

// LevelTrace is the slog level of pion's trace messages: below
// slog.LevelDebug, so that a debug logger leaves them out.
const LevelTrace = slog.LevelDebug - 4

func (f slogFactory) NewLogger(scope string) logging.LeveledLogger {
	return slogLeveled{f.l.With("scope", scope)}
}

// slogLeveled is pion's logging.LeveledLogger over a *slog.Logger.
type slogLeveled struct{ l *slog.Logger }

func (s slogLeveled) log(level slog.Level, msg string) {
	s.l.Log(context.Background(), level, msg)
}

// logf formats only what the logger would print.
func (s slogLeveled) logf(level slog.Level, format string, args ...any) {
	if s.l.Enabled(context.Background(), level) {
		s.l.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

func (s slogLeveled) Trace(msg string)                  { s.log(LevelTrace, msg) }
func (s slogLeveled) Tracef(format string, args ...any) { s.logf(LevelTrace, format, args...) }
func (s slogLeveled) Debug(msg string)                  { s.log(slog.LevelDebug, msg) }
func (s slogLeveled) Debugf(format string, args ...any) { s.logf(slog.LevelDebug, format, args...) }
func (s slogLeveled) Info(msg string)                   { s.log(slog.LevelInfo, msg) }
func (s slogLeveled) Infof(format string, args ...any)  { s.logf(slog.LevelInfo, format, args...) }
func (s slogLeveled) Warn(msg string)                   { s.log(slog.LevelWarn, msg) }
func (s slogLeveled) Warnf(format string, args ...any)  { s.logf(slog.LevelWarn, format, args...) }
func (s slogLeveled) Error(msg string)                  { s.log(slog.LevelError, msg) }
func (s slogLeveled) Errorf(format string, args ...any) { s.logf(slog.LevelError, format, args...) }

// certStore keeps one DTLS certificate for an Upgrader's upgrades: making
// one (an ECDSA key) for each upgrade cost as much as a tenth of setting
// it up. It is renewed after a week (pion's are valid for a month).
type certStore struct {
	mu   sync.Mutex
	cert *webrtc.Certificate
	made time.Time
}

const certRenew = 7 * 24 * time.Hour

func (s *certStore) get() (webrtc.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cert == nil || time.Since(s.made) > certRenew {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return webrtc.Certificate{}, fmt.Errorf("webrtc: %w", err)
		}
		cert, err := webrtc.GenerateCertificate(key)
		if err != nil {
			return webrtc.Certificate{}, fmt.Errorf("webrtc: %w", err)
		}
		s.cert, s.made = cert, time.Now()
	}
	return *s.cert, nil
}
