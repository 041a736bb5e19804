// Command pex runs peer-exchange nodes.
//
//	pex node --network ID [--listen HOST:PORT] [--connect HOST:PORT]... [--want N]
//	         [--hello TEXT] [--echo] [--json]
//	pex demo [--nodes N] [--want K] [--timeout D] [--no-webrtc] [--no-direct] [--json]
//
// With --json every event is one JSON object a line on stdout.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage:
  pex node --network ID [--listen HOST:PORT] [--connect HOST:PORT]... [--want N] [--hello TEXT] [--echo] [--json]
  pex demo [--nodes N] [--want K] [--timeout D] [--no-webrtc] [--no-direct] [--json]
  pex bench getnewpeer [--n N] [--js DIR] [--no-js] [--json]
  pex bt swarm (--infohash HEX | --magnet URI | --torrent FILE) [--listen HOST:PORT] [--peer HOST:PORT]...
               [--tracker URL]... [--dht-bootstrap HOST:PORT]... [--no-dht] [--no-pex] [--max-peers N] [--duration D] [--json]
  pex version
Run "pex COMMAND -h" or "pex help COMMAND" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks a command line that could not be parsed.
var errUsage = errors.New("usage")

// usageErr turns a flag parsing error into errUsage, except for -h.
func usageErr(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return errUsage
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "node":
		err = runNode(ctx, args[1:], stdout, stderr)
	case "demo":
		err = runDemo(ctx, args[1:], stdout, stderr)
	case "bench":
		err = runBench(ctx, args[1:], stdout, stderr)
	case "bt":
		err = runBT(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		printVersion(stdout)
		return 0
	case "help", "-h", "--help":
		if len(args) > 1 { // pex help COMMAND: that command's flags
			return run(ctx, append(args[1:], "-h"), stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "pex: unknown command %q\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0 // -h asked for the flags, and got them
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintln(stderr, "pex:", err)
		return 1
	}
}
