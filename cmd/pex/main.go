// Command pex runs peer-exchange nodes: PXP nodes (the protocol of the npm
// package peer-exchange) and BitTorrent swarms that exchange peers over
// ut_pex and Vuze's AZMP.
//
//	pex node --network ID [flags]     a long-running PXP node
//	pex demo [flags]                  a PXP network growing on loopback
//	pex bt swarm --infohash HEX ...   peer exchange in one BitTorrent swarm
//	pex bt crawl --infohash HEX ...   map a BitTorrent swarm through PEX
//	pex turn --listen ADDR ...        a STUN and TURN server for relay operators
//	pex keygen --out FILE             a network key for pex node --network-key
//	pex version
//
// "pex help COMMAND" prints a command's description, examples and flags;
// docs/pex.md holds them all. Output is one event a line, logfmt or
// (--json) JSON. Exit status 0 is done, 1 failed, 2 a bad command line,
// 130 (128 and the signal's number) a pex demo interrupted.
//
// The benchmarks and simulators are another command, pexlab.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"
)

func main() {
	ctx, stop := cli.SignalContext(context.Background())
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
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
	case "keygen":
		err = runKeygen(args[1:], stdout, stderr)
	case "version", "--version":
		err = runVersion(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		return prog.HelpCommand(args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "pex: unknown command %q; the commands are %s, and help\nRun \"pex --help\" for usage (the benchmarks and simulators are pexlab's).\n", args[0], prog.Names())
		return 2
	}
	return prog.Exit(ctx, err, stderr)
}
