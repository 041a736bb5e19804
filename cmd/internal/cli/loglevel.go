package cli

import (
	"flag"
	"io"
	"log/slog"
	"os"
)

// DebugEnv is the environment variable that stands for --log-level debug
// when the flag is not given.
const DebugEnv = "PEX_DEBUG"

// AddLogLevel registers --log-level on fs: every command of pex takes it.
func AddLogLevel(fs *flag.FlagSet, level *string) {
	fs.StringVar(level, "log-level", "", "log the protocols' messages of `LEVEL` and above to stderr: debug, info, warn or error (default none; "+DebugEnv+"=1 is debug)")
}

// LogLevel refuses a --log-level that log/slog does not know.
func (c *Checks) LogLevel(level string) {
	var l slog.Level
	if level != "" && l.UnmarshalText([]byte(level)) != nil {
		c.Fail("log-level", "want debug, info, warn or error, got %q", level)
	}
}

// Logger is the protocols' logger that --log-level asks for (log/slog's
// text on stderr), a debug one when the flag is not given and PEX_DEBUG
// is set, or nil: silent. level has passed Checks.LogLevel.
func Logger(level string, stderr io.Writer) *slog.Logger {
	if level == "" && os.Getenv(DebugEnv) != "" {
		level = "debug"
	}
	var l slog.Level
	if level == "" || l.UnmarshalText([]byte(level)) != nil {
		return nil
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: l}))
}
