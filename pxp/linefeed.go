package pxp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/seed0021ed4d/pex/mux"
	"github.com/seed0021ed4d/pex/pxp/wire"
)

// Reading lines without a goroutine parked on an idle stream. A relay
// holds thousands of links that are idle nearly all the time; a reader
// goroutine per link would hold its stack and a read buffer for nothing.
// Instead the session tells a feed when its stream has bytes (mux's
// SetReadNotify), and a goroutine runs only while there are lines to
// handle: it takes what is buffered, hands over every whole line, and
// ends when nothing is left. One reader at a time: a notice that comes
// while one runs makes it look again before it ends.

// lineFeed hands the lines of a stream to handle, then its end to end.
type lineFeed struct {
	src    availReader
	handle func(line []byte) error    // a non-nil error ends the feed with it
	end    func(err error, read bool) // called once, from the last reader; read: the stream's own error

	mu      sync.Mutex
	running bool // a reader goroutine is on the stream
	again   bool // bytes came while it ran: look again before ending
	over    bool // end was called: no more readers
	lines   lineSplitter
}

// availReader is a stream read without waiting: 0 and nil when nothing is
// there yet (mux.Stream's ReadAvailable).
type availReader interface {
	ReadAvailable(p []byte) (int, error)
}

// startFeed reads st's lines as notices come; st must not be read
// otherwise.
func startFeed(st *mux.Stream, f *lineFeed) {
	f.src = st
	st.SetReadNotify(f.readable)
}

// readable is the stream's notice: it runs with the session's lock held
// and only starts a reader or tells the running one.
func (f *lineFeed) readable() {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.over:
	case f.running:
		f.again = true
	default:
		f.running = true
		go f.read()
	}
}

// read hands over the buffered lines and ends when there are none; at
// the stream's end, or a handler's error, it ends the feed.
func (f *lineFeed) read() {
	for {
		line, ok, err := f.lines.next(f.src)
		read := err != nil
		if err == nil && ok {
			err = f.handle(line)
		}
		if err != nil {
			f.mu.Lock()
			f.over, f.running = true, false
			f.lines.release()
			f.mu.Unlock()
			f.end(err, read)
			return
		}
		if !ok {
			f.mu.Lock()
			if f.again {
				f.again = false
				f.mu.Unlock()
				continue
			}
			f.running = false
			f.mu.Unlock()
			return
		}
	}
}

// blockingReader makes a plain reader an availReader that waits: a feed
// on it is a goroutine for the stream's life (transports without read
// notices, such as a WebRTC data channel).
type blockingReader struct{ io.Reader }

func (b blockingReader) ReadAvailable(p []byte) (int, error) {
	for {
		n, err := b.Read(p)
		if n > 0 || err != nil || len(p) == 0 {
			return n, err
		}
	}
}

// ReadLines hands each line of the stream to handle (without its "\n" or
// "\r\n"; at most max bytes, 0 meaning Config.MaxMessageSize), until the
// stream ends or handle returns an error; then done gets why (io.EOF at a
// clean end, ErrLineTooLong for a longer line, handle's error). A stream
// a PXP session carries (tcp, ws, relay) has no goroutine waiting on it
// while it is idle, which is what lets a relay hold thousands of idle
// links; a WebRTC one has one. handle runs on one goroutine at a time,
// and line is valid only during the call. c must not be read otherwise;
// it may be written and closed (done follows a Close).
func (c *Conn) ReadLines(max int, handle func(line []byte) error, done func(err error)) {
	if max <= 0 {
		max = 64 << 10
		if c.peer != nil {
			max = c.peer.ex.cfg.MaxMessageSize
		}
	}
	f := &lineFeed{lines: lineSplitter{max: max}, handle: handle, end: func(err error, _ bool) { done(err) }}
	if st, ok := c.Conn.(*mux.Stream); ok {
		startFeed(st, f)
		return
	}
	f.src, f.running = blockingReader{c.Conn}, true
	go f.read()
}

// startControlFeed reads the link's control stream: each line is a
// message, dispatched; the stream's end closes the link, and releases the
// link's hold on the exchange's wait group once its session has closed.
func (p *Peer) startControlFeed() {
	p.rd = &lineFeed{
		lines: lineSplitter{max: p.ex.cfg.MaxMessageSize, skipBlank: true},
		handle: func(line []byte) error {
			p.ex.msgsIn.Add(1)
			m, err := wire.ParseMessage(line)
			if err != nil {
				return &ProtocolError{Reason: err.(*wire.MessageError).Reason}
			}
			if isTraffic(m) {
				p.msgsIn.Add(1)
			}
			return p.dispatch(m)
		},
		end: func(err error, read bool) {
			if errors.Is(err, net.ErrClosed) {
				err = ErrClosed
			}
			if se := p.sess.Err(); read && se != nil && !errors.Is(se, mux.ErrSessionClosed) && !errors.Is(err, ErrLineTooLong) {
				err = se // the transport's failure says more than the stream's end
			}
			p.closeWith(err)
			<-p.sess.Done() // its graceful close, bounded by Config.CloseDrain
			p.ex.wg.Done()
		},
	}
	p.ex.wg.Add(1)
	startFeed(p.ctl, p.rd)
}

// ErrLineTooLong is wrapped by the error for a line over the limit.
var ErrLineTooLong = errors.New("pxp: control message too long")

// lineSplitter cuts a stream into lines of at most max bytes, accepting
// "\n" and "\r\n" (and, with skipBlank, skipping empty lines, like
// ndjson). Between bursts it holds no buffer, only a partial line waiting
// for its end. A burst reads into a buffer borrowed from lineBufs and
// gives it back when the burst is over, so that a node answering
// thousands of links a second does not allocate and clear a buffer for
// each of their bursts.
type lineSplitter struct {
	max       int
	skipBlank bool
	buf       []byte  // bytes taken from the stream and not yet returned
	off       int     // where they start in buf
	lent      *[]byte // the pool's buffer buf is, while it is one
}

// firstLineBuf is the buffer a burst starts with; a line that does not
// fit moves to a longLineBuf one, and past that to a buffer of its own,
// growing to max.
const (
	firstLineBuf = 1 << 10
	longLineBuf  = 8 << 10 // a getpeers answer of 16 candidates is 2 to 4 KiB
)

// lineBufs and longLineBufs hold the firstLineBuf and longLineBuf buffers
// of bursts that are over.
var (
	lineBufs = sync.Pool{New: func() any {
		b := make([]byte, 0, firstLineBuf)
		return &b
	}}
	longLineBufs = sync.Pool{New: func() any {
		b := make([]byte, 0, longLineBuf)
		return &b
	}}
)

// release gives the buffer back (to the pool when it is the pool's) and
// drops what it held.
func (l *lineSplitter) release() {
	if l.lent != nil {
		*l.lent = (*l.lent)[:0]
		if cap(*l.lent) == longLineBuf {
			longLineBufs.Put(l.lent)
		} else {
			lineBufs.Put(l.lent)
		}
		l.lent = nil
	}
	l.buf, l.off = nil, 0
}

// next returns the next line, valid until the next call; ok is false when
// no whole line is buffered and the stream has nothing more for now.
func (l *lineSplitter) next(src availReader) (line []byte, ok bool, err error) {
	for {
		if i := bytes.IndexByte(l.buf[l.off:], '\n'); i >= 0 {
			line = bytes.TrimSuffix(l.buf[l.off:l.off+i], []byte{'\r'})
			l.off += i + 1
			if len(line) > l.max {
				return nil, false, fmt.Errorf("%w: over %d bytes", ErrLineTooLong, l.max)
			}
			if l.skipBlank && len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			return line, true, nil
		}
		// No newline in what is there: keep the partial line, at the front.
		rest := len(l.buf) - l.off
		if rest > l.max+1 { // one more for a "\r"
			return nil, false, fmt.Errorf("%w: over %d bytes", ErrLineTooLong, l.max)
		}
		switch {
		case rest == 0:
			l.buf, l.off = l.buf[:0], 0
		case l.off > 0:
			copy(l.buf, l.buf[l.off:])
			l.buf, l.off = l.buf[:rest], 0
		}
		switch {
		case cap(l.buf) == 0:
			l.lent = lineBufs.Get().(*[]byte)
			l.buf = (*l.lent)[:0]
		case cap(l.buf)-len(l.buf) < firstLineBuf/4 && cap(l.buf) < longLineBuf && l.max+2 > firstLineBuf:
			// A long line: a long buffer from the pool.
			long := longLineBufs.Get().(*[]byte)
			nb := append((*long)[:0], l.buf...)
			l.release()
			l.buf, l.lent = nb, long
		case cap(l.buf)-len(l.buf) < firstLineBuf/4:
			// A longer one: a buffer of its own, up to max.
			nb := make([]byte, len(l.buf), min(max(2*cap(l.buf), firstLineBuf), l.max+2+firstLineBuf))
			copy(nb, l.buf)
			l.release()
			l.buf = nb
		}
		n, err := src.ReadAvailable(l.buf[len(l.buf):cap(l.buf)])
		l.buf = l.buf[:len(l.buf)+n]
		if err != nil {
			if err == io.EOF && len(l.buf) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, false, err
		}
		if n == 0 {
			if len(l.buf) == 0 {
				l.release()
			}
			return nil, false, nil
		}
	}
}
