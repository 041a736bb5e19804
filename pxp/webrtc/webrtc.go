// Package webrtc upgrades PXP introductions to WebRTC data channels with
// pion, the way peer-exchange 2.2.0 does it with simple-peer 6 (spec §6 and
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
// This is the only package of pex that imports pion.
package webrtc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/stun/v4"
	"github.com/pion/webrtc/v4"

	"github.com/seed0021ed4d/pex/pxp"
)

// Config tunes the upgrader. The zero value means the defaults per field.
type Config struct {
	// ICEServers are STUN and TURN server URLs (RFC 7064 and 7065:
	// "stun:host[:port]", "turn:host[:port][?transport=udp|tcp]", and the
	// "stuns:" and "turns:" forms). New rejects any other. Default none.
	ICEServers []string
	// ICEUsername and ICECredential authenticate to the TURN servers
	// among ICEServers.
	ICEUsername, ICECredential string
	// Loopback restricts ICE to loopback addresses, both the candidates
	// gathered here and the remote ones tried (wrtc lists the machine's
	// other addresses too). For tests and demos on one machine; `pex node
	// --ice-loopback` sets it.
	Loopback bool
	// Timeout bounds ICE, DTLS and the data channel's opening, on top of the
	// caller's context. Default 10 s.
	Timeout time.Duration
	// MaxPendingCandidates bounds remote candidates kept before the remote
	// description. Default 64.
	MaxPendingCandidates int
	// Logger receives debug logs; nil means silent.
	Logger *slog.Logger
}

// Upgrader is a pxp.Upgrader for WebRTC.
type Upgrader struct {
	api     *webrtc.API
	cfg     Config
	servers []webrtc.ICEServer
}

var _ pxp.Upgrader = (*Upgrader)(nil)

// New returns an Upgrader. cfg may be nil.
func New(cfg *Config) (*Upgrader, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Timeout < 0 {
		return nil, errors.New("webrtc: negative Timeout")
	}
	if c.MaxPendingCandidates == 0 {
		c.MaxPendingCandidates = 64
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	var servers []webrtc.ICEServer
	for _, u := range c.ICEServers {
		uri, err := stun.ParseURI(u)
		if err != nil {
			return nil, fmt.Errorf("webrtc: ICE server %q: %w", u, err)
		}
		s := webrtc.ICEServer{URLs: []string{u}}
		if uri.Scheme == stun.SchemeTypeTURN || uri.Scheme == stun.SchemeTypeTURNS {
			s.Username, s.Credential = c.ICEUsername, c.ICECredential
		}
		servers = append(servers, s)
	}
	var se webrtc.SettingEngine
	se.DetachDataChannels()
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	se.LoggerFactory = quietLogger{}
	if c.Loopback {
		se.SetIncludeLoopbackCandidate(true)
		loop := func(ip net.IP) bool { return ip.IsLoopback() }
		se.SetIPFilter(loop)
		se.SetRemoteIPFilter(loop)
	}
	return &Upgrader{api: webrtc.NewAPI(webrtc.WithSettingEngine(se)), cfg: c, servers: servers}, nil
}

// Transport returns "webrtc".
func (u *Upgrader) Transport() string { return "webrtc" }

// signal is simple-peer's signal object.
type signal struct {
	Type      string                   `json:"type,omitempty"`
	SDP       string                   `json:"sdp,omitempty"`
	Candidate *webrtc.ICECandidateInit `json:"candidate,omitempty"`
}

// session is one upgrade.
type session struct {
	u         *Upgrader
	initiator bool
	send      func(json.RawMessage) error
	pc        *webrtc.PeerConnection

	mu          sync.Mutex
	haveRemote  bool
	descSent    bool
	localCands  []webrtc.ICECandidateInit
	remoteCands []webrtc.ICECandidateInit
	handedOver  bool
	closed      bool

	open   chan *dcConn // the data channel, once open
	failed chan error
	once   sync.Once
}

// Start begins an upgrade. See pxp.Upgrader.
func (u *Upgrader) Start(ctx context.Context, initiator bool, send func(json.RawMessage) error) (pxp.Upgrade, error) {
	pc, err := u.api.NewPeerConnection(webrtc.Configuration{ICEServers: u.servers})
	if err != nil {
		return nil, fmt.Errorf("webrtc: %w", err)
	}
	s := &session{u: u, initiator: initiator, send: send, pc: pc, open: make(chan *dcConn, 1), failed: make(chan error, 1)}
	pc.OnICECandidate(s.onLocalCandidate)
	log := u.cfg.Logger.With("initiator", initiator)
	pc.OnICEConnectionStateChange(func(st webrtc.ICEConnectionState) {
		log.Debug("webrtc: ICE state", "state", st.String())
	})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		log.Debug("webrtc: connection state", "state", st.String())
		if st == webrtc.PeerConnectionStateFailed {
			s.fail(errors.New("webrtc: connection failed (ICE or DTLS)"))
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

func (s *session) fail(err error) {
	select {
	case s.failed <- err:
	default:
	}
}

// watch hands the data channel over once it opens.
func (s *session) watch(dc *webrtc.DataChannel) {
	dc.OnOpen(func() {
		raw, err := dc.DetachWithDeadline()
		if err != nil {
			s.fail(fmt.Errorf("webrtc: detach: %w", err))
			return
		}
		c := newDCConn(s.pc, dc, raw)
		s.once.Do(func() { s.open <- c })
	})
	dc.OnClose(func() { s.fail(errors.New("webrtc: data channel closed before the upgrade finished")) })
}

func (s *session) sendDescription(d webrtc.SessionDescription) error {
	b, _ := json.Marshal(signal{Type: d.Type.String(), SDP: d.SDP})
	err := s.send(b)
	s.u.cfg.Logger.Debug("webrtc: sent description", "initiator", s.initiator, "type", d.Type.String(), "err", err)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.descSent = true
	pending := s.localCands
	s.localCands = nil
	s.mu.Unlock()
	for _, c := range pending {
		s.sendCandidate(c)
	}
	return nil
}

func (s *session) onLocalCandidate(c *webrtc.ICECandidate) {
	if c == nil {
		return // never forward end-of-candidates to simple-peer
	}
	init := c.ToJSON()
	s.mu.Lock()
	if !s.descSent {
		s.localCands = append(s.localCands, init)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.sendCandidate(init)
}

func (s *session) sendCandidate(c webrtc.ICECandidateInit) {
	b, _ := json.Marshal(signal{Candidate: &c})
	if err := s.send(b); err != nil {
		s.fail(err)
	}
}

// Signal feeds one remote signal.
func (s *session) Signal(raw json.RawMessage) error {
	s.u.cfg.Logger.Debug("webrtc: remote signal", "initiator", s.initiator, "signal", string(truncateSig(raw)))
	var sig signal
	if err := json.Unmarshal(raw, &sig); err != nil {
		return fmt.Errorf("webrtc: signal is not an object: %w", err)
	}
	switch {
	case sig.Candidate != nil:
		if sig.Candidate.Candidate == "" {
			return nil // end of candidates
		}
		s.mu.Lock()
		if !s.haveRemote {
			if len(s.remoteCands) >= s.u.cfg.MaxPendingCandidates {
				s.mu.Unlock()
				return errors.New("webrtc: too many candidates before the description")
			}
			s.remoteCands = append(s.remoteCands, *sig.Candidate)
			s.mu.Unlock()
			return nil
		}
		s.mu.Unlock()
		if err := s.pc.AddICECandidate(*sig.Candidate); err != nil {
			return fmt.Errorf("webrtc: candidate: %w", err)
		}
		return nil
	case sig.Type == "offer" && !s.initiator, sig.Type == "answer" && s.initiator:
		desc := webrtc.SessionDescription{SDP: sig.SDP}
		if sig.Type == "offer" {
			desc.Type = webrtc.SDPTypeOffer
		} else {
			desc.Type = webrtc.SDPTypeAnswer
		}
		if err := s.pc.SetRemoteDescription(desc); err != nil {
			return fmt.Errorf("webrtc: remote %s: %w", sig.Type, err)
		}
		s.mu.Lock()
		s.haveRemote = true
		pending := s.remoteCands
		s.remoteCands = nil
		s.mu.Unlock()
		for _, c := range pending {
			if err := s.pc.AddICECandidate(c); err != nil {
				return fmt.Errorf("webrtc: candidate: %w", err)
			}
		}
		if sig.Type == "offer" {
			answer, err := s.pc.CreateAnswer(nil)
			if err == nil {
				err = s.pc.SetLocalDescription(answer)
			}
			if err != nil {
				return fmt.Errorf("webrtc: answer: %w", err)
			}
			return s.sendDescription(answer)
		}
		return nil
	case sig.Type == "offer" || sig.Type == "answer":
		return fmt.Errorf("webrtc: unexpected %s", sig.Type)
	case sig.Type != "":
		return nil // renegotiate and transceiver requests: not for data channels
	}
	return errors.New("webrtc: signal has neither a description nor a candidate")
}

// Conn waits for the data channel.
func (s *session) Conn(ctx context.Context) (net.Conn, error) {
	t := time.NewTimer(s.u.cfg.Timeout)
	defer t.Stop()
	select {
	case c := <-s.open:
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return nil, errors.New("webrtc: upgrade abandoned")
		}
		s.handedOver = true
		s.mu.Unlock()
		return c, nil
	case err := <-s.failed:
		s.Close()
		return nil, err
	case <-t.C:
		s.Close()
		return nil, fmt.Errorf("webrtc: data channel not open after %v", s.u.cfg.Timeout)
	case <-ctx.Done():
		s.Close()
		return nil, ctx.Err()
	}
}

// Close abandons the upgrade unless its connection was handed over.
func (s *session) Close() error {
	s.mu.Lock()
	if s.handedOver || s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	return s.pc.Close()
}

// quietLogger silences pion's own logging.
type quietLogger struct{}

func (quietLogger) NewLogger(string) logging.LeveledLogger {
	return logging.NewDefaultLeveledLoggerForScope("", logging.LogLevelDisabled, io.Discard)
}

func truncateSig(b []byte) []byte {
	if len(b) > 120 {
		return b[:120]
	}
	return b
}
