package mux

import (
	"log/slog"
	"sync/atomic"
	"time"
)

// Config tunes a Session. The zero value means the defaults given per
// field, and so does a negative number or duration.
type Config struct {
	// MaxFrameSize is the largest frame payload accepted from the peer. A
	// larger frame is a protocol error that ends the session. Default 1 MiB.
	MaxFrameSize int
	// MaxWriteChunk is the largest payload sent in one DATA frame; longer
	// writes are split. Default 64 KiB.
	MaxWriteChunk int
	// StreamBuffer is how many received bytes a stream holds for its
	// reader. When it is full the session stops reading the transport
	// while the reader makes progress (the only back-pressure a multiplex
	// peer gets); a reader that takes nothing for StallTimeout ends its
	// stream alone, with ErrStreamStalled, and the session reads on, so a
	// stream nobody drains cannot stall the control stream or the other
	// relays of its link. Defaults 256 KiB and 2 s.
	StreamBuffer int
	StallTimeout time.Duration
	// MaxPendingStreams bounds the peer channels kept while nobody has asked
	// for their name yet. Further ones are ignored. Default 8.
	MaxPendingStreams int
	// PendingBuffer bounds the bytes kept for one such channel; a channel
	// that sends more is discarded. Default 64 KiB.
	PendingBuffer int
	// PendingBudget, when set, bounds the bytes of unclaimed channels over
	// every session sharing it (a node's links, say); a channel whose bytes
	// do not fit is discarded. Nil means no bound but PendingBuffer a
	// channel.
	PendingBudget *Budget
	// PendingTimeout is how long such a channel is kept, on a timer of its
	// own. Default 15 s.
	PendingTimeout time.Duration
	// WriteTimeout bounds one write to the transport when it is a net.Conn.
	// A write that does not finish in time ends the session. Default 30 s.
	WriteTimeout time.Duration
	// CloseDrain and CloseDrainBytes bound Close's drain (close.go): on a
	// transport that can half close, Close sends its end and reads and
	// drops what the peer still sends until the peer ends too, so that
	// bytes left unread do not turn the close into a reset, for at most
	// CloseDrain and CloseDrainBytes; then it closes the transport.
	// Defaults 2 s and 1 MiB.
	CloseDrain      time.Duration
	CloseDrainBytes int
	// Logger receives debug logs; nil means silent.
	Logger *slog.Logger
}

// Defaults of Config's fields.
const (
	DefaultMaxWriteChunk     = 64 << 10
	DefaultStreamBuffer      = 256 << 10
	DefaultMaxPendingStreams = 8
	DefaultPendingBuffer     = 64 << 10
	DefaultPendingTimeout    = 15 * time.Second
	DefaultStallTimeout      = 2 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultCloseDrain        = 2 * time.Second
	DefaultCloseDrainBytes   = 1 << 20
)

// positiveOr returns v when it is positive and d otherwise: in this
// package a zero or negative field means the default.
func positiveOr[T int | time.Duration](v, d T) T {
	if v > 0 {
		return v
	}
	return d
}

// DefaultConfig returns the configuration a nil *Config stands for.
func DefaultConfig() *Config {
	c := (*Config)(nil).withDefaults()
	return &c
}

func (c *Config) withDefaults() Config {
	var o Config
	if c != nil {
		o = *c
	}
	o.MaxFrameSize = positiveOr(o.MaxFrameSize, DefaultMaxFrameSize)
	o.MaxWriteChunk = positiveOr(o.MaxWriteChunk, DefaultMaxWriteChunk)
	o.StreamBuffer = positiveOr(o.StreamBuffer, DefaultStreamBuffer)
	o.MaxPendingStreams = positiveOr(o.MaxPendingStreams, DefaultMaxPendingStreams)
	o.PendingBuffer = positiveOr(o.PendingBuffer, DefaultPendingBuffer)
	o.PendingTimeout = positiveOr(o.PendingTimeout, DefaultPendingTimeout)
	o.StallTimeout = positiveOr(o.StallTimeout, DefaultStallTimeout)
	o.WriteTimeout = positiveOr(o.WriteTimeout, DefaultWriteTimeout)
	o.CloseDrain = positiveOr(o.CloseDrain, DefaultCloseDrain)
	o.CloseDrainBytes = positiveOr(o.CloseDrainBytes, DefaultCloseDrainBytes)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Budget is a byte allowance shared by sessions: see Config.PendingBudget.
// Its methods are safe for concurrent use; a nil *Budget allows anything.
type Budget struct {
	max  int64
	used atomic.Int64
}

// NewBudget returns a Budget of max bytes.
func NewBudget(max int64) *Budget { return &Budget{max: max} }

// Used reports the bytes taken now.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}

func (b *Budget) take(n int) bool {
	if b == nil {
		return true
	}
	if b.used.Add(int64(n)) > b.max {
		b.used.Add(-int64(n))
		return false
	}
	return true
}

func (b *Budget) give(n int) {
	if b != nil && n > 0 {
		b.used.Add(-int64(n))
	}
}
