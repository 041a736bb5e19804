package proc

// A process's output: its stdout read line by line into events, and
// the rest kept as its log.

import (
	"bytes"
	"encoding/json"
)

// Log is the tail (see LogLimit) of the process's stderr and of the lines
// of its stdout that are no JSON object.
func (p *Proc) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return string(p.logTail())
}

// LogSince returns what the log gained since mark (as far as it keeps it)
// and the mark of its end now: LogSince(0) is the whole log.
func (p *Proc) LogSince(mark int64) (string, int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tail := p.logTail()
	if n := p.logged - mark; n >= 0 && n < int64(len(tail)) {
		tail = tail[int64(len(tail))-n:]
	}
	return string(tail), p.logged
}

func (p *Proc) logTail() []byte {
	if len(p.log) > p.cfg.logLimit {
		return p.log[len(p.log)-p.cfg.logLimit:]
	}
	return p.log
}

func (p *Proc) appendLog(b []byte) {
	p.log = append(p.log, b...)
	p.logged += int64(len(b))
	if len(p.log) > 2*p.cfg.logLimit {
		p.log = append(p.log[:0], p.log[len(p.log)-p.cfg.logLimit:]...)
	}
}

// line takes one line of stdout.
func (p *Proc) line(b []byte) {
	if p.cfg.tee != nil {
		p.cfg.tee.Write(append(b[:len(b):len(b)], '\n'))
	}
	var ev Event
	isEvent := bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) && json.Unmarshal(b, &ev) == nil
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	p.cond.Broadcast()
	if !isEvent {
		p.appendLog(append(b[:len(b):len(b)], '\n'))
		return
	}
	if len(p.ring) < p.cfg.maxEvents {
		p.ring = append(p.ring, ev)
	} else {
		p.ring[p.seen%p.cfg.maxEvents] = ev
	}
	p.seen++
	if ev["event"] == "listening" {
		tr, _ := ev["transport"].(string)
		if tr == "" {
			tr = "tcp"
		}
		p.addrs[tr], _ = ev["addr"].(string)
	}
}

// lineWriter is the process's stdout: it cuts it into lines for line.
type lineWriter struct {
	p    *Proc
	buf  []byte
	skip bool // in a line too long to keep
}

func (w *lineWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if !w.skip {
				w.buf = append(w.buf, b...)
				if len(w.buf) > maxLine {
					w.buf, w.skip = w.buf[:0], true
				}
			}
			break
		}
		if !w.skip {
			w.buf = append(w.buf, b[:i]...)
			if len(w.buf) <= maxLine {
				w.p.line(w.buf)
			}
		}
		w.buf, w.skip = w.buf[:0], false
		b = b[i+1:]
	}
	return n, nil
}

// flush takes the last line, when the output did not end with a newline.
func (w *lineWriter) flush() {
	if len(w.buf) > 0 && !w.skip {
		w.p.line(w.buf)
	}
	w.buf = nil
}

// logWriter is the process's stderr.
type logWriter struct{ p *Proc }

func (w logWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	w.p.appendLog(b)
	w.p.seq++
	w.p.cond.Broadcast()
	w.p.mu.Unlock()
	return len(b), nil
}
