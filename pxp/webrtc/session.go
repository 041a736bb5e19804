package webrtc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

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
	budget    *checkBudget  // what may go to candidates that never answered
	pace      *consentPacer // the consent checks, once the link is up

	mu          sync.Mutex
	haveRemote  bool
	remoteTaken int // remote candidates taken
	descSent    bool
	localCands  []webrtc.ICECandidateInit
	remoteCands []webrtc.ICECandidateInit
	conn        *dcConn // the link, once handed over
	closed      bool

	open   chan *dcConn // the data channel, once open
	failed chan error
	once   sync.Once
}

func (s *session) fail(err error) {
	select {
	case s.failed <- err:
	default:
	}
}

// broken handles the PeerConnection failing: before the handover the
// upgrade fails; after it, the link it became is closed with
// ErrConsentLost (pion fails a connection that heard nothing for
// ConsentTimeout, and nothing else would end an idle link whose peer
// vanished).
func (s *session) broken() {
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c != nil {
		c.lose(ErrConsentLost)
		return
	}
	s.fail(errors.New("webrtc: connection failed (ICE or DTLS)"))
}

// watch hands the data channel over once it opens.
func (s *session) watch(dc *webrtc.DataChannel) {
	dc.OnOpen(func() {
		raw, err := dc.DetachWithDeadline()
		if err != nil {
			s.fail(fmt.Errorf("webrtc: detach: %w", err))
			return
		}
		s.pace.settle(s.pc.SCTP().Transport().ICETransport().Role() == webrtc.ICERoleControlling)
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

// takeCandidate reports whether a remote candidate is checked: at most
// MaxRemoteCandidates of a session are, none to an address no
// connectivity check may go to (unspecified, multicast, broadcast, port 0),
// and none to a private, loopback or link-local address that is not on a
// network of this machine's own (the peer's home network, unreachable from
// here: checks to it are wasted, and a peer must not make this node probe
// its own LAN). A peer cannot make this node send STUN checks at a list of
// victims.
func (s *session) takeCandidate(line string) bool {
	ap, named, ok := candidateAddr(line)
	if !ok || !named && !publicAddr(ap.Addr()) && !s.u.nets.onLink(ap.Addr()) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.remoteTaken >= s.u.cfg.MaxRemoteCandidates {
		return false
	}
	s.remoteTaken++
	if !named {
		s.budget.expect(ap)
	}
	return true
}

// trimCandidates applies takeCandidate to the candidates written in a
// session description, dropping the lines it refuses.
func (s *session) trimCandidates(sdp string) string {
	if !strings.Contains(sdp, "a=candidate:") {
		return sdp
	}
	lines := strings.SplitAfter(sdp, "\n")
	out := lines[:0]
	for _, l := range lines {
		if c, ok := strings.CutPrefix(l, "a="); ok && strings.HasPrefix(c, "candidate:") && !s.takeCandidate(strings.TrimRight(c, "\r\n")) {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "")
}

// publicAddr reports whether ip is a global unicast address outside the
// private ranges.
func publicAddr(ip netip.Addr) bool {
	return ip.IsGlobalUnicast() && !ip.IsPrivate()
}

// usableCandidate reports whether a check may be sent to the address of
// an ICE candidate line (candidateAddr).
func usableCandidate(line string) bool {
	_, _, ok := candidateAddr(line)
	return ok
}

// candidateAddr reads the address of an ICE candidate line
// ("candidate:foundation component transport priority address port typ
// ..."). named says it holds no address to judge (a host name, resolved
// if at all by the ICE agent, or a port that does not parse, which pion
// refuses); ap is then zero. ok is false when no check may go to it
// (unspecified, multicast, broadcast, port 0, or a line too short).
func candidateAddr(line string) (ap netip.AddrPort, named, ok bool) {
	f := strings.Fields(line)
	if len(f) < 6 || f[5] == "0" {
		return netip.AddrPort{}, false, false
	}
	ip, err := netip.ParseAddr(f[4])
	port, perr := strconv.ParseUint(f[5], 10, 16)
	if err != nil || perr != nil {
		return netip.AddrPort{}, true, true
	}
	ip = ip.Unmap()
	if ip.IsUnspecified() || ip.IsMulticast() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return netip.AddrPort{}, false, false
	}
	return netip.AddrPortFrom(ip, uint16(port)), false, true
}

// Signal feeds one remote signal. Its bytes are the session's allowance
// for checks to candidates that have not answered (budget.go).
func (s *session) Signal(raw json.RawMessage) error {
	s.budget.earn(len(raw))
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
		if len(strings.Fields(sig.Candidate.Candidate)) < 6 {
			return fmt.Errorf("webrtc: malformed candidate %q", truncateSig([]byte(sig.Candidate.Candidate)))
		}
		if !s.takeCandidate(sig.Candidate.Candidate) {
			return nil // over the budget, or an address never checked: dropped
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
		desc := webrtc.SessionDescription{SDP: s.trimCandidates(sig.SDP)}
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
		s.conn = c
		s.mu.Unlock()
		if s.pc.ConnectionState() == webrtc.PeerConnectionStateFailed {
			c.lose(ErrConsentLost) // failed between the channel's opening and now
			return nil, ErrConsentLost
		}
		if s.initiator {
			// A wrtc answerer (the JS reference on Node) loses a message
			// that arrives before its JavaScript has taken the new data
			// channel, and it writes its own first message only once it
			// has. So the initiator writes only after that message.
			if err := c.awaitFirst(ctx, time.Now().Add(s.u.cfg.Timeout)); err != nil {
				c.Close()
				return nil, fmt.Errorf("webrtc: the answerer sent nothing on the data channel: %w", err)
			}
		}
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
	if s.conn != nil || s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	return s.pc.Close()
}

func truncateSig(b []byte) []byte {
	if len(b) > 120 {
		return b[:120]
	}
	return b
}
