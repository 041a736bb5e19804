package main

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"
)

// checks gathers what is wrong with a command line, flag by flag, so that
// a bad value is refused at start with a message naming its flag (exit 2)
// instead of failing later, or never.
type checks struct {
	cmd  string
	errs []string
}

func (c *checks) fail(flag, format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf("--%s: %s", flag, fmt.Sprintf(format, args...)))
}

func (c *checks) nonNegative(flag string, v int64) {
	if v < 0 {
		c.fail(flag, "must not be negative (got %d)", v)
	}
}

// hostPort checks a HOST:PORT value (a host name is fine).
func (c *checks) hostPort(flag, v string) {
	if v == "" {
		return
	}
	if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
		c.fail(flag, "want HOST:PORT, got %q", v)
	}
}

func (c *checks) nonNegativeDuration(flag string, d time.Duration) {
	if d < 0 {
		c.fail(flag, "must not be negative (got %v)", d)
	}
}

func (c *checks) noArgs(args []string) {
	if len(args) > 0 {
		c.errs = append(c.errs, fmt.Sprintf("unexpected argument %q (every value belongs to a flag; a stray word stops flag parsing)", args[0]))
	}
}

func (c *checks) trackerURL(flag, v string) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "udp") || u.Host == "" {
		c.fail(flag, "want an http, https or udp tracker URL, got %q", v)
	}
}

// report prints the problems and returns errUsage when there are any.
func (c *checks) report(stderr io.Writer) error {
	if len(c.errs) == 0 {
		return nil
	}
	fmt.Fprintf(stderr, "%s: %s\n", c.cmd, strings.Join(c.errs, "; "))
	return errUsage
}
