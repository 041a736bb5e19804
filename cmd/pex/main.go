// Command pex runs peer-exchange nodes: PXP nodes (the protocol of the npm
// package peer-exchange) and BitTorrent swarms that exchange peers over
// ut_pex and Vuze's AZMP.
//
//	pex node --network ID [flags]     a long-running PXP node
//	pex demo [flags]                  a PXP network growing on loopback
//	pex bt swarm --infohash HEX ...   peer exchange in one BitTorrent swarm
//	pex bt crawl --infohash HEX ...   map a BitTorrent swarm through PEX
//	pex turn --listen ADDR ...        a STUN and TURN server for relay operators
//	pex version
//
// "pex help COMMAND" prints a command's description, examples and flags;
// docs/pex.md holds them all. Output is one event a line, logfmt or
// (--json) JSON. Exit status 0 is done, 1 failed, 2 a bad command line.
//
// The benchmarks and simulators are another command, pexlab.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		prog.WriteUsage(stderr)
		return 2
	}
	var err error
	switch args[0] {
	case "node":
		err = runNode(ctx, args[1:], stdout, stderr)
	case "demo":
		err = runDemo(ctx, args[1:], stdout, stderr)
	case "bt":
		err = runBT(ctx, args[1:], stdout, stderr)
	case "turn":
		err = runTurn(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		if len(args) > 1 && (args[1] == "-h" || args[1] == "--help") {
			versionCmd.WriteHelp(stdout)
			return 0
		}
		printVersion(stdout)
		return 0
	case "help", "-h", "--help":
		if len(args) == 1 {
			prog.WriteUsage(stdout)
			return 0
		}
		c := prog.Find(strings.Join(args[1:], " "))
		if c == nil {
			fmt.Fprintf(stderr, "pex help: no command %q; the commands are %s\n", strings.Join(args[1:], " "), prog.Names())
			return 2
		}
		c.WriteHelp(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "pex: unknown command %q; the commands are %s, and help\nRun \"pex --help\" for usage (the benchmarks and simulators are pexlab's).\n", args[0], prog.Names())
		return 2
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0 // -h asked for the flags, and got them
	case errors.Is(err, cli.ErrUsage):
		return 2
	default:
		fmt.Fprintln(stderr, "pex:", err)
		return 1
	}
}
