package swarm

import (
	"net/netip"
	"sort"

	"github.com/seed0021ed4d/pex/bt/pex"
)

// pexLog is the swarm's one ordered record of the listen addresses peer
// exchange tells about: an entry when an address joins the set (a peer
// past its handshakes whose listen address is known) and one when it
// leaves. Each connection keeps only a cursor into it, so that telling a
// peer what changed costs the entries read, not a walk of the whole peer
// set, and a connection holds no copy of what it told.
//
// A connection reads from its cursor in order: adds of addresses still in
// the set (one whose address left later is skipped), and drops of adds it
// told. A new connection starts at the beginning, so its first messages
// carry the current set, MaxAdded at a time. One imprecision is accepted
// for that economy: a peer may hear a drop of an address it was not told
// about, when the add and the drop both sat in its backlog for more than
// one message; receivers ignore drops of addresses they do not know.
//
// The log keeps the adds of the current set and the drops some
// connection has yet to pass; dead entries are swept once they are half
// of it, so its length stays within a small multiple of the set's.
type pexLog struct {
	entries []logEntry                // ordered by seq
	next    uint64                    // seq of the next entry
	live    map[netip.AddrPort]uint64 // address in the set -> seq of its add
	dead    int                       // entries a sweep would remove
	sweepAt int                       // sweep when dead reaches it
	visits  uint64                    // entries read or swept, ever (the work done)
	waiters map[*conn]struct{}        // connections with nothing to tell, woken by the next entry
}

type logEntry struct {
	seq    uint64
	addr   netip.AddrPort
	flags  pex.Flags
	drop   bool
	dead   bool   // an add whose address left the set since
	addSeq uint64 // drop: the seq of the add it undoes
}

func (l *pexLog) init() {
	l.live = map[netip.AddrPort]uint64{}
	l.waiters = map[*conn]struct{}{}
}

// has reports whether a is in the set.
func (l *pexLog) has(a netip.AddrPort) bool {
	_, ok := l.live[a]
	return ok
}

func (l *pexLog) add(a netip.AddrPort, flags pex.Flags) {
	if l.has(a) {
		return
	}
	l.live[a] = l.next
	l.entries = append(l.entries, logEntry{seq: l.next, addr: a, flags: flags})
	l.next++
	l.notify()
}

// drop takes a out of the set; minCursor is the least cursor of any
// connection, for the sweep.
func (l *pexLog) drop(a netip.AddrPort, minCursor func() uint64) {
	seq, ok := l.live[a]
	if !ok {
		return
	}
	delete(l.live, a)
	if i := l.index(seq); i < len(l.entries) && l.entries[i].seq == seq {
		l.entries[i].dead = true
		l.dead++
	}
	l.entries = append(l.entries, logEntry{seq: l.next, addr: a, drop: true, addSeq: seq})
	l.next++
	l.dead++ // a drop is dead too, once every cursor has passed it
	l.notify()
	// Sweeping costs the log's length; it runs once dead entries are more
	// than half of it and twice what the last sweep left, so its cost per
	// change stays constant however far behind some cursor is.
	if l.dead >= max(64, l.sweepAt) && 2*l.dead > len(l.entries) {
		l.sweep(minCursor())
		l.sweepAt = 2 * l.dead
	}
}

// notify wakes the connections waiting for news: each sends after
// PEXSettleDelay, so that a burst of changes goes out in one message.
func (l *pexLog) notify() {
	for c := range l.waiters {
		c.news = true
		c.kick()
	}
	clear(l.waiters)
}

// index is the position of the first entry with a seq at least seq.
func (l *pexLog) index(seq uint64) int {
	return sort.Search(len(l.entries), func(i int) bool { return l.entries[i].seq >= seq })
}

// sweep removes dead adds, and drops every cursor has passed (min is the
// least cursor). Drops still ahead of a cursor stay, counted as dead.
func (l *pexLog) sweep(min uint64) {
	kept := l.entries[:0]
	l.dead = 0
	l.visits += uint64(len(l.entries))
	for _, e := range l.entries {
		switch {
		case e.drop && e.seq < min, !e.drop && e.dead:
			continue
		case e.drop:
			l.dead++
		}
		kept = append(kept, e)
	}
	clear(l.entries[len(kept):])
	l.entries = kept
}

// logCursor is one reader's place in the log, with what it needs to
// tell only drops of adds it told: where it started reading (born) and
// its last message's range.
type logCursor struct {
	next      uint64 // the first entry not read yet
	reading   bool   // it has read (born is set)
	born      uint64 // the log's head at its first message
	prevStart uint64 // its last message began at this entry,
	prevHead  uint64 // when the log's head was this
}

// pending reports whether there are entries the cursor has not read.
func (l *pexLog) pending(c *logCursor) bool { return c.next < l.next }

// read fills m from the entries after c, within the caps, leaving out the
// receiver's own address, and moves c past the entries it consumed.
//
// An add is told when its address is still in the set. A drop is told
// when its add was told: it lies before this message's start, the drop
// happened after the reader's first message (before it, the add was dead
// when passed) and not while the last message was read past the add.
func (l *pexLog) read(c *logCursor, receiver netip.AddrPort, maxAdded, maxDropped int, m *pex.Msg) {
	m.Reset()
	start := c.next
	if !c.reading {
		c.reading, c.born = true, l.next
	}
	defer func() { c.prevStart, c.prevHead = start, l.next }()
	for i := l.index(start); i < len(l.entries); i++ {
		e := &l.entries[i]
		l.visits++
		switch {
		case e.drop:
			told := e.addSeq < start && e.seq >= c.born && !(e.addSeq >= c.prevStart && e.seq < c.prevHead)
			if !told || e.addr == receiver {
				break
			}
			if len(m.Dropped) == maxDropped {
				c.next = e.seq
				return
			}
			m.Dropped = append(m.Dropped, e.addr)
		case !e.dead && e.addr != receiver && pex.Usable(e.addr):
			if len(m.Added) == maxAdded {
				c.next = e.seq
				return
			}
			m.Added = append(m.Added, pex.Peer{Addr: e.addr, Flags: e.flags})
		}
	}
	c.next = l.next
}
