package memnet

import (
	"errors"
	"fmt"
	"net"
	"sync"
)

// Network is a set of listeners reached by address.
type Network struct {
	mu        sync.Mutex
	listeners map[Addr]*Listener
	next      int
}

// NewNetwork returns an empty network.
func NewNetwork() *Network { return &Network{listeners: make(map[Addr]*Listener)} }

// ErrRefused is returned by Dial when nobody listens on the address.
var ErrRefused = errors.New("memnet: connection refused")

// Listen listens on addr ("" picks a fresh one).
func (n *Network) Listen(addr string) (*Listener, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if addr == "" {
		n.next++
		addr = fmt.Sprintf("mem-%d", n.next)
	}
	a := Addr(addr)
	if _, ok := n.listeners[a]; ok {
		return nil, fmt.Errorf("memnet: address %s in use", addr)
	}
	l := &Listener{n: n, addr: a, ch: make(chan *Conn, 16), done: make(chan struct{})}
	n.listeners[a] = l
	return l, nil
}

// Dial connects to the listener at addr from a fresh address of the form
// "mem-client-N".
func (n *Network) Dial(addr string) (*Conn, error) { return n.DialFrom("", addr) }

// DialFrom connects to the listener at addr from the address local, which
// the listener's side sees as RemoteAddr ("" picks a fresh one). Tests
// give hosts IP:port addresses this way.
func (n *Network) DialFrom(local, addr string) (*Conn, error) {
	n.mu.Lock()
	l := n.listeners[Addr(addr)]
	if local == "" {
		n.next++
		local = fmt.Sprintf("mem-client-%d", n.next)
	}
	n.mu.Unlock()
	if l == nil {
		return nil, fmt.Errorf("%w: %s", ErrRefused, addr)
	}
	a, b := Pipe(Addr(local), l.addr)
	select {
	case l.ch <- b:
	case <-l.done:
		return nil, fmt.Errorf("%w: %s", ErrRefused, addr)
	}
	// The listener may have closed between the lookup and the send, after
	// Close drained its queue: then this dial drains it, so that no
	// connection waits in a queue nobody will accept from.
	select {
	case <-l.done:
		l.drain()
	default:
	}
	return a, nil
}

// Listener accepts connections dialed to its address.
type Listener struct {
	n    *Network
	addr Addr
	ch   chan *Conn
	once sync.Once
	done chan struct{}
}

// Accept waits for the next connection.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case <-l.done:
		return nil, net.ErrClosed
	default:
	}
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops the listener. Connections dialed to it and not yet accepted
// are closed, as a TCP listener's queue is reset when its socket closes:
// their dialers read EOF at once instead of waiting out a timeout.
func (l *Listener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.n.mu.Lock()
		delete(l.n.listeners, l.addr)
		l.n.mu.Unlock()
		l.drain()
	})
	return nil
}

// drain closes the connections queued on a closed listener.
func (l *Listener) drain() {
	for {
		select {
		case c := <-l.ch:
			c.Close()
		default:
			return
		}
	}
}

// Addr returns the listener's address.
func (l *Listener) Addr() net.Addr { return l.addr }
