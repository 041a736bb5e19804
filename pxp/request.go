package pxp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/seed0021ed4d/pex/pxp/wire"
	"golang.org/x/time/rate"
)

func ctxErr(ctx context.Context) error {
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) && !errors.Is(c, context.DeadlineExceeded) {
		return c
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ErrHandshakeTimeout
	}
	return ctx.Err()
}

// responseError turns a non-null response into a RemoteError.
func responseError(cmd string, res json.RawMessage) error {
	if isNull(res) {
		return nil
	}
	var s string
	if json.Unmarshal(res, &s) == nil {
		return &RemoteError{Command: cmd, Message: s}
	}
	return &RemoteError{Command: cmd, Message: string(truncate(res, 200))}
}

func isNull(b json.RawMessage) bool {
	s := strings.TrimSpace(string(b))
	return s == "" || s == "null"
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// request sends cmd and waits for its res, bounded by ctx and RequestTimeout.
func (p *Peer) request(ctx context.Context, cmd string, args json.RawMessage) (json.RawMessage, error) {
	ch := make(chan json.RawMessage, 1)
	p.mu.Lock()
	if p.closed {
		err := p.err
		p.mu.Unlock()
		return nil, fmt.Errorf("pxp: %s: link closed: %w", cmd, err)
	}
	nonce := wire.FormatNonce(p.nonce)
	p.nonce++
	p.pending[nonce] = ch
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.pending, nonce)
		p.mu.Unlock()
	}()
	if err := p.send(cmd, nonce, args); err != nil {
		p.closeWith(err)
		return nil, err
	}
	t := time.NewTimer(p.ex.cfg.RequestTimeout)
	defer t.Stop()
	select {
	case res := <-ch:
		return res, nil
	case <-t.C:
		return nil, fmt.Errorf("%w: %s to %s", ErrRequestTimeout, cmd, p)
	case <-ctx.Done():
		return nil, fmt.Errorf("pxp: %s: %w", cmd, ctxErr(ctx))
	case <-p.done:
		// An answer read before the link ended is dispatched before the
		// end is seen (one goroutine does both), yet both may be in when
		// this wakes and select picks at random: the answer wins. A node
		// that refuses a connect ("peer is full") closes the link right
		// after answering, and its refusal is what the caller must get.
		select {
		case res := <-ch:
			return res, nil
		default:
		}
		return nil, fmt.Errorf("pxp: %s: link closed: %w", cmd, p.Err())
	}
}

// send writes one control message as one stream write.
func (p *Peer) send(cmd, nonce string, args json.RawMessage) error {
	line := wire.AppendMessage(make([]byte, 0, 64+len(args)), cmd, nonce, args)
	if _, err := p.ctl.Write(line); err != nil {
		return fmt.Errorf("pxp: sending %s: %w", cmd, err)
	}
	p.ex.msgsOut.Add(1)
	return nil
}

// linePool lends the buffers getpeers answers are built in: the control
// stream copies a line into its frames, so the buffer is free again once
// Write returns. A buffer grown past maxPooledLine is left to the GC.
var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

const maxPooledLine = 64 << 10

// sendCandidates answers getpeers nonce with cands, written into the line
// in place (appendCandidates; compact says every connectInfo is known to
// be compact already). It reports false, having sent nothing, when a
// candidate's connectInfo is not compact JSON: respond writes that answer
// as encoding/json does.
func (p *Peer) sendCandidates(nonce string, cands []Candidate, compact bool) (bool, error) {
	bp := linePool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= maxPooledLine {
			linePool.Put(bp)
		}
	}()
	line, ok := appendAnswerLine((*bp)[:0], nonce, cands, compact)
	*bp = line
	if !ok {
		return false, nil
	}
	if _, err := p.ctl.Write(line); err != nil {
		return true, fmt.Errorf("pxp: sending %s: %w", wire.CmdRes, err)
	}
	p.ex.msgsOut.Add(1)
	return true, nil
}

// appendAnswerLine appends the whole line answering getpeers nonce with
// cands; false when a connectInfo is not compact (appendCandidates), dst
// then returned as it came. With compact set, the caller knows every
// connectInfo is, and it is not looked at again.
func appendAnswerLine(dst []byte, nonce string, cands []Candidate, compact bool) ([]byte, bool) {
	line := wire.AppendMessageHead(dst, wire.CmdRes, nonce)
	if compact {
		line = appendCompactCandidates(line, cands)
	} else if line, compact = appendCandidates(line, cands); !compact {
		return dst, false
	}
	return wire.AppendMessageEnd(line), true
}

func (p *Peer) respond(nonce string, args any) {
	b, err := json.Marshal(args)
	if err != nil {
		b = []byte("null")
	}
	if err := p.send(wire.CmdRes, nonce, b); err != nil {
		p.closeWith(err)
	}
}

// refuse answers a request with an error string, counts it under limit
// (Stats.Refusals) and reports it.
func (p *Peer) refuse(cmd, nonce, limit string, msg string, args ...any) {
	p.ex.counts.add(func(c *counters) { bump(&c.refusals, limit) })
	if len(args) > 0 {
		msg = fmt.Sprintf(msg, args...)
	}
	if cmd == wire.CmdGetPeers {
		p.respond(nonce, []string{msg})
	} else {
		p.respond(nonce, msg)
	}
	p.ex.emit(Event{Type: EventError, Peer: p, Err: fmt.Errorf("pxp: refused %s from %s: %s", cmd, p, msg)})
}

// allow takes a token of the peer's bucket for messages of kind cmd.
func (p *Peer) allow(cmd string) bool {
	if len(cmd) > 16 {
		cmd = "?" // unknown kinds share one bucket
	}
	l := p.limits[cmd]
	if l == nil {
		if p.limits == nil {
			p.limits = make(map[string]*rate.Limiter)
		}
		if len(p.limits) >= 16 {
			cmd = "?"
			l = p.limits[cmd]
		}
		if l == nil {
			l = rate.NewLimiter(rate.Limit(p.ex.cfg.RequestRate), p.ex.cfg.RequestBurst)
			p.limits[cmd] = l
		}
	}
	return l.Allow()
}

// overRate answers a request over its rate with an error (other messages
// are dropped) and disconnects a peer that keeps at it.
func (p *Peer) overRate(m wire.Message) error {
	if !p.refusals.Allow() {
		return fmt.Errorf("%w: %q over its rate", ErrFlood, truncate([]byte(m.Command), 16))
	}
	switch m.Command {
	case wire.CmdRelay, wire.CmdIncoming, wire.CmdConnect, wire.CmdGetPeers, wire.CmdDialback:
		p.refuse(m.Command, m.Nonce, "rate", "too many %s requests", m.Command)
	}
	return nil
}

func (p *Peer) dispatch(m wire.Message) error {
	if m.Command == wire.CmdRes {
		p.mu.Lock()
		ch := p.pending[m.Nonce]
		delete(p.pending, m.Nonce)
		p.mu.Unlock()
		if ch != nil {
			ch <- append(json.RawMessage(nil), m.Args...)
		}
		return nil
	}
	if m.Command == wire.CmdHello {
		return p.onHello(m.Args)
	}
	p.mu.Lock()
	ready, refusing := p.ready, p.refusing
	p.mu.Unlock()
	if !ready {
		return nil // as the reference: ignored before hello
	}
	if refusing != nil {
		p.refuse(m.Command, m.Nonce, "peers", peerFullMessage)
		return refusing
	}
	if m.Command != wire.CmdGetPeers && !p.allow(m.Command) {
		return p.overRate(m)
	}
	switch m.Command {
	case wire.CmdGetPeers:
		if !p.getpeers.Allow() {
			return p.overRate(m)
		}
		return p.onGetPeers(m)
	case wire.CmdRelay:
		return p.onRelay(m)
	case wire.CmdIncoming:
		return p.onIncoming(m)
	case wire.CmdConnect:
		return p.onConnect(m)
	case wire.CmdUpgrade:
		return p.onUpgrade(m)
	case wire.CmdDialback:
		return p.onDialback(m)
	case wire.CmdInfo:
		return p.onInfo(m)
	}
	p.ex.emit(Event{Type: EventError, Peer: p, Err: fmt.Errorf("pxp: ignored unknown message %q from %s", truncate([]byte(m.Command), 64), p)})
	return nil
}
