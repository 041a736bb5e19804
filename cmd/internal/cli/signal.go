package cli

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
)

// ErrInterrupted: a command with a goal (pex demo: every node at --want)
// was stopped by a signal before reaching it. The program exits with the
// shell's status for the signal (InterruptedStatus), not 1: an interrupt
// is not a failure of the run, nor a timeout.
var ErrInterrupted = errors.New("interrupted")

// SignalError is the cause of a context SignalContext ended.
type SignalError struct{ Signal os.Signal }

func (e *SignalError) Error() string { return "interrupted by " + e.Signal.String() }

// SignalContext is ended by SIGINT or SIGTERM, with a SignalError naming
// the signal as its cause (context.Cause). stop releases the signals.
func SignalContext(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case s := <-ch:
			cancel(&SignalError{Signal: s})
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		cancel(nil)
	}
}

// InterruptedStatus is the exit status of a run ctx's signal ended: 128
// and the signal's number, as shells report it (130 for SIGINT, 143 for
// SIGTERM); 130 when ctx ended otherwise.
func InterruptedStatus(ctx context.Context) int {
	var se *SignalError
	if errors.As(context.Cause(ctx), &se) {
		if s, ok := se.Signal.(syscall.Signal); ok {
			return 128 + int(s)
		}
	}
	return 130
}

// Hangups delivers SIGHUP, the operator's "read your files again", on
// the channel returned, until stop; without it SIGHUP ends the process.
func Hangups() (c <-chan os.Signal, stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	return ch, func() { signal.Stop(ch) }
}
