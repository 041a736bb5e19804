package cli

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"
)

// Checks gathers what is wrong with a command line, flag by flag, so that
// a bad value is refused at start with a message naming its flag (exit 2)
// instead of failing later, or never.
type Checks struct {
	Cmd  string
	errs []string
}

// Fail records that flag is wrong.
func (c *Checks) Fail(flag, format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf("--%s: %s", flag, fmt.Sprintf(format, args...)))
}

// NonNegative refuses a negative count.
func (c *Checks) NonNegative(flag string, v int64) {
	if v < 0 {
		c.Fail(flag, "must not be negative (got %d)", v)
	}
}

// HostPort checks a HOST:PORT value (a host name is fine).
func (c *Checks) HostPort(flag, v string) {
	if v == "" {
		return
	}
	if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
		c.Fail(flag, "want HOST:PORT, got %q", v)
	}
}

// NonNegativeDuration refuses a negative duration.
func (c *Checks) NonNegativeDuration(flag string, d time.Duration) {
	if d < 0 {
		c.Fail(flag, "must not be negative (got %v)", d)
	}
}

// NoArgs refuses words left after the flags.
func (c *Checks) NoArgs(args []string) {
	if len(args) > 0 {
		c.errs = append(c.errs, fmt.Sprintf("unexpected argument %q (every value belongs to a flag; a stray word stops flag parsing)", args[0]))
	}
}

// TrackerURL checks an http, https or udp tracker URL.
func (c *Checks) TrackerURL(flag, v string) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "udp") || u.Host == "" {
		c.Fail(flag, "want an http, https or udp tracker URL, got %q", v)
	}
}

// Report prints the problems and returns ErrUsage when there are any.
func (c *Checks) Report(stderr io.Writer) error {
	if len(c.errs) == 0 {
		return nil
	}
	fmt.Fprintf(stderr, "%s: %s\n", c.Cmd, strings.Join(c.errs, "; "))
	return ErrUsage
}
