package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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

// Env records that the environment variable name is wrong.
func (c *Checks) Env(name, format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf("%s: %s", name, fmt.Sprintf(format, args...)))
}

// OK reports whether nothing was found wrong so far: checks that write
// (OutputDir) run only then.
func (c *Checks) OK() bool { return len(c.errs) == 0 }

// NonNegative refuses a negative count.
func (c *Checks) NonNegative(flag string, v int64) {
	if v < 0 {
		c.Fail(flag, "must not be negative (got %d)", v)
	}
}

// HostPort checks an address to listen on, HOST:PORT (a host name is
// fine, an empty host means every interface, port 0 picks a free one):
// the port a number from 0 to 65535.
func (c *Checks) HostPort(flag, v string) { c.hostPort(flag, v, 0) }

// DialAddr checks an address to dial, HOST:PORT: as HostPort, but port 0
// names nobody.
func (c *Checks) DialAddr(flag, v string) { c.hostPort(flag, v, 1) }

// AddrExample is the address the errors of HostPort and DialAddr give as
// an example.
const AddrExample = "127.0.0.1:7000"

func (c *Checks) hostPort(flag, v string, minPort int) {
	if v == "" {
		return
	}
	_, port, err := net.SplitHostPort(v)
	if err != nil || port == "" {
		why := "no port"
		var ae *net.AddrError
		switch {
		case errors.As(err, &ae) && strings.Contains(ae.Err, "too many colons"):
			why = "an IPv6 address goes in brackets: [::1]:7000"
		case errors.As(err, &ae) && !strings.Contains(ae.Err, "missing port"):
			why = ae.Err
		}
		c.Fail(flag, "want HOST:PORT such as %s, got %q (%s)", AddrExample, v, why)
		return
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < minPort || n > 65535 {
		c.Fail(flag, "want HOST:PORT such as %s with a port from %d to 65535, got %q", AddrExample, minPort, v)
	}
}

// OutputFile checks, at start, a file the command writes at its end (and
// the files beside it whose names begin with its): its directory must
// exist and take new files, and the file, if there, must be a file it
// may write. Nothing is created or changed.
func (c *Checks) OutputFile(flag, path string) {
	if path == "" {
		return
	}
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		c.Fail(flag, "cannot write %s: %s is not a directory (make it first)", path, dir)
		return
	}
	if st, err := os.Stat(path); err == nil {
		if st.IsDir() {
			c.Fail(flag, "%s is a directory; want a file name", path)
			return
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			c.Fail(flag, "cannot write %s: %v", path, pathErr(err))
			return
		}
		f.Close()
	}
	if err := probeDir(dir); err != nil {
		c.Fail(flag, "cannot write in %s: %v", dir, pathErr(err))
	}
}

// OutputDir makes, at start, a directory the command writes into (with
// its parents, with perm) and checks that it takes new files.
func (c *Checks) OutputDir(flag, dir string, perm os.FileMode) {
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, perm); err != nil {
		c.Fail(flag, "cannot make the directory %s: %v", dir, pathErr(err))
		return
	}
	if err := probeDir(dir); err != nil {
		c.Fail(flag, "cannot write in %s: %v", dir, pathErr(err))
	}
}

// probeDir creates and removes a file in dir.
func probeDir(dir string) error {
	f, err := os.CreateTemp(dir, ".pex-probe-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// pathErr is an error without the path its message repeats.
func pathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ReadFile reads a file a flag names (a password, a list of users) at
// start, refusing one that cannot be read or is over max bytes.
func (c *Checks) ReadFile(flag, path string, max int64) ([]byte, bool) {
	f, err := os.Open(path)
	if err != nil {
		c.Fail(flag, "cannot read %s: %v", path, pathErr(err))
		return nil, false
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	switch {
	case err != nil:
		c.Fail(flag, "cannot read %s: %v", path, pathErr(err))
		return nil, false
	case int64(len(b)) > max:
		c.Fail(flag, "%s is over %d bytes", path, max)
		return nil, false
	}
	return b, true
}

// Rule is one combination of flags a command refuses: when If is given,
// one of Needs must be too, and none of Excludes may be; Why says what
// goes wrong otherwise. The names are flags' ("connect"), or environment
// variables' ("PEX_TURN_PASS"), or a flag with the value it needs
// ("ice-server turn:").
type Rule struct {
	If       string
	Needs    []string
	Excludes []string
	Unless   []string // the rule does not hold when one of these is given
	Why      string
}

// Given is the set Rules looks names up in: the flags fs was given with
// a value other than their default.
func Given(fs *flag.FlagSet) map[string]bool {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) {
		if f.Value.String() != f.DefValue {
			given[f.Name] = true
		}
	})
	return given
}

// Rules refuses the combinations of given that break rules, naming both
// flags and saying why: "--want needs --connect or --listen: ...".
func (c *Checks) Rules(given map[string]bool, rules []Rule) {
	for _, r := range rules {
		if !given[r.If] || slices.ContainsFunc(r.Unless, func(n string) bool { return given[n] }) {
			continue
		}
		if len(r.Needs) > 0 && !slices.ContainsFunc(r.Needs, func(n string) bool { return given[n] }) {
			var names []string
			for _, n := range r.Needs {
				names = append(names, flagName(n))
			}
			c.errs = append(c.errs, fmt.Sprintf("%s needs %s: %s", flagName(r.If), orList(names), r.Why))
		}
		for _, x := range r.Excludes {
			if given[x] {
				c.errs = append(c.errs, fmt.Sprintf("%s and %s do not go together: %s", flagName(r.If), flagName(x), r.Why))
			}
		}
	}
}

// flagName is how an error names a Rule's name: --flag, or an environment
// variable as it is.
func flagName(n string) string {
	if strings.ToUpper(n) == n {
		return n
	}
	return "--" + n
}

func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
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
