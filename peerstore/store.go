package peerstore

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults of Config.
const (
	DefaultMaxPeers  = 500
	DefaultMaxScopes = 64
	DefaultMaxAge    = 7 * 24 * time.Hour
	// DefaultMaxFailures: a peer that failed this many times in a row is
	// forgotten.
	DefaultMaxFailures = 8
	// MaxFileSize bounds the file Open reads: a bigger one is not ours.
	MaxFileSize = 64 << 20
)

// version is the file format's.
const version = 1

// Errors.
var (
	// ErrLocked: another process holds the store.
	ErrLocked = errors.New("peerstore: held by another process")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("peerstore: closed")
	// ErrCorrupt: the file is not a store: empty, not JSON, not the
	// store's shape, or over MaxFileSize. Open leaves it alone; what holds
	// only remembered peers may move it aside and start afresh.
	ErrCorrupt = errors.New("peerstore: not a peer store")
)

// Config bounds a Store. The zero value (or nil) means the defaults, and
// so does a negative field.
type Config struct {
	// MaxPeers bounds the peers of one scope; the worst are forgotten
	// first (most failures in a row, then least recently seen). Default
	// DefaultMaxPeers.
	MaxPeers int
	// MaxScopes bounds the scopes; the one seen least recently is
	// forgotten first. Default DefaultMaxScopes.
	MaxScopes int
	// MaxAge forgets a peer not seen working for this long. Default
	// DefaultMaxAge.
	MaxAge time.Duration
	// MaxFailures forgets a peer after this many failures in a row.
	// Default DefaultMaxFailures.
	MaxFailures int
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

func (c *Config) withDefaults() Config {
	var out Config
	if c != nil {
		out = *c
	}
	out.MaxPeers = positiveOr(out.MaxPeers, DefaultMaxPeers)
	out.MaxScopes = positiveOr(out.MaxScopes, DefaultMaxScopes)
	out.MaxAge = positiveOr(out.MaxAge, DefaultMaxAge)
	out.MaxFailures = positiveOr(out.MaxFailures, DefaultMaxFailures)
	if out.Now == nil {
		out.Now = time.Now
	}
	return out
}

// positiveOr returns v when it is positive and d otherwise: a zero or
// negative bound means the default.
func positiveOr[T int | time.Duration](v, d T) T {
	if v > 0 {
		return v
	}
	return d
}

// Peer is a remembered peer.
type Peer struct {
	Addr      string    `json:"addr"`   // HOST:PORT, as dialed
	Source    string    `json:"source"` // how it was first learned: "connect", "tracker", "pex", ...
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"` // its last success
	Successes int       `json:"successes"`
	Failures  int       `json:"failures"` // in a row since its last success
}

type file struct {
	Version int               `json:"version"`
	Saved   time.Time         `json:"saved"`
	Scopes  map[string][]Peer `json:"scopes"`
}

// Store is a bounded set of remembered peers backed by one file. Its
// methods are safe for concurrent use.
type Store struct {
	path   string
	cfg    Config
	unlock func()

	mu     sync.Mutex
	scopes map[string]map[string]*Peer
	dirty  bool
	closed bool
	saveMu sync.Mutex // one write at a time
}

// Open reads the store at path (an absent file is an empty store) and
// locks it. A file that cannot be parsed is an error wrapping ErrCorrupt
// (one of another version, an error of its own): it is left alone, for
// its owner to look at.
func Open(path string, cfg *Config) (*Store, error) {
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, err
	}
	s := &Store{path: path, cfg: cfg.withDefaults(), unlock: unlock, scopes: make(map[string]map[string]*Peer)}
	removeTemps(path)
	if err := s.load(); err != nil {
		unlock()
		return nil, err
	}
	return s, nil
}

func (s *Store) load() error {
	f, err := os.Open(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > MaxFileSize {
		return fmt.Errorf("%w: %s is %d bytes, more than %d", ErrCorrupt, s.path, fi.Size(), MaxFileSize)
	}
	var doc file
	if err := json.NewDecoder(f).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("empty")
		}
		return fmt.Errorf("%w: %s: %w", ErrCorrupt, s.path, err)
	}
	if doc.Version == 0 {
		return fmt.Errorf("%w: %s: no version", ErrCorrupt, s.path)
	}
	if doc.Version != version {
		return fmt.Errorf("peerstore: %s: version %d, want %d", s.path, doc.Version, version)
	}
	for scope, peers := range doc.Scopes {
		for _, p := range peers {
			if p.Addr == "" {
				continue
			}
			m := s.scopes[scope]
			if m == nil {
				m = make(map[string]*Peer)
				s.scopes[scope] = m
			}
			p := p
			m[p.Addr] = &p
		}
	}
	s.pruneLocked()
	return nil
}

// Peers returns scope's peers, best first: those that worked most
// recently and failed least since.
func (s *Store) Peers(scope string) []Peer {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked()
	out := make([]Peer, 0, len(s.scopes[scope]))
	for _, p := range s.scopes[scope] {
		out = append(out, *p)
	}
	slices.SortFunc(out, better)
	return out
}

// better orders peers best first.
func better(a, b Peer) int {
	return cmp.Or(cmp.Compare(a.Failures, b.Failures), b.LastSeen.Compare(a.LastSeen), cmp.Compare(b.Successes, a.Successes), strings.Compare(a.Addr, b.Addr))
}

// Success records that addr worked (a link past its handshake), learned
// from source when it is new.
func (s *Store) Success(scope, addr, source string) {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.scopes[scope]
	if m == nil {
		m = make(map[string]*Peer)
		s.scopes[scope] = m
	}
	p := m[addr]
	if p == nil {
		p = &Peer{Addr: addr, Source: source, FirstSeen: now}
		m[addr] = p
	}
	p.LastSeen = now
	p.Successes++
	p.Failures = 0
	s.dirty = true
	s.boundLocked(scope)
}

// Failure records that a dial of a remembered addr failed; peers not in
// the store are not added.
func (s *Store) Failure(scope, addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.scopes[scope][addr]; p != nil {
		p.Failures++
		s.dirty = true
		if p.Failures >= s.cfg.MaxFailures {
			delete(s.scopes[scope], addr)
		}
	}
}

// boundLocked forgets scope's worst peers past MaxPeers, and the least
// recently seen scopes past MaxScopes.
func (s *Store) boundLocked(scope string) {
	if m := s.scopes[scope]; len(m) > s.cfg.MaxPeers {
		ps := make([]*Peer, 0, len(m))
		for _, p := range m {
			ps = append(ps, p)
		}
		slices.SortFunc(ps, func(a, b *Peer) int { return better(*a, *b) })
		for _, p := range ps[s.cfg.MaxPeers:] {
			delete(m, p.Addr)
		}
	}
	for len(s.scopes) > s.cfg.MaxScopes {
		var oldest string
		var at time.Time
		for name, m := range s.scopes {
			last := time.Time{}
			for _, p := range m {
				if p.LastSeen.After(last) {
					last = p.LastSeen
				}
			}
			if oldest == "" || last.Before(at) {
				oldest, at = name, last
			}
		}
		delete(s.scopes, oldest)
	}
}

// pruneLocked forgets peers not seen for MaxAge or failing MaxFailures
// times in a row.
func (s *Store) pruneLocked() {
	cut := s.cfg.Now().Add(-s.cfg.MaxAge)
	for name, m := range s.scopes {
		for a, p := range m {
			if p.LastSeen.Before(cut) || p.Failures >= s.cfg.MaxFailures {
				delete(m, a)
				s.dirty = true
			}
		}
		if len(m) == 0 {
			delete(s.scopes, name)
		}
	}
	for name := range s.scopes {
		s.boundLocked(name)
	}
}

// Save writes the store if it changed since the last Save.
func (s *Store) Save() error {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if !s.dirty {
		s.mu.Unlock()
		return nil
	}
	s.pruneLocked()
	doc := file{Version: version, Saved: s.cfg.Now().UTC(), Scopes: make(map[string][]Peer, len(s.scopes))}
	for name, m := range s.scopes {
		ps := make([]Peer, 0, len(m))
		for _, p := range m {
			ps = append(ps, *p)
		}
		slices.SortFunc(ps, better)
		doc.Scopes[name] = ps
	}
	s.dirty = false
	s.mu.Unlock()
	b, err := json.MarshalIndent(doc, "", " ")
	if err == nil {
		err = writeAtomic(s.path, b)
	}
	if err != nil {
		s.mu.Lock()
		s.dirty = true
		s.mu.Unlock()
	}
	return err
}

// Close saves the store and releases its lock.
func (s *Store) Close() error {
	err := s.Save()
	if errors.Is(err, ErrClosed) {
		return nil
	}
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.unlock()
	return err
}
