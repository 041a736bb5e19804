// Command pex runs peer-exchange nodes: PXP nodes (the protocol of the npm
// package peer-exchange) and BitTorrent swarms that exchange peers over
// ut_pex and Vuze's AZMP.
//
//	pex node --network ID [flags]     a long-running PXP node
//	pex demo [flags]                  a PXP network growing on loopback
//	pex bench getnewpeer [flags]      GetNewPeer, Go against the JS reference
//	pex bench relay [flags]           a relay holding many idle links
//	pex bench swarm [flags]           a swarm of many idle peers, pex against libtorrent
//	pex bt swarm --infohash HEX ...   peer exchange in one BitTorrent swarm
//	pex bt crawl --infohash HEX ...   map a BitTorrent swarm through PEX
//	pex sim [flags]                   thousands of PXP nodes in one process
//	pex sim bt [flags]                thousands of BitTorrent peers in one process
//	pex turn --listen ADDR ...        a STUN and TURN server for relay operators
//	pex version
//
// "pex help COMMAND" prints a command's description, examples and flags.
// Output is one event a line, logfmt or (--json) JSON. Exit status 0 is
// done, 1 failed, 2 a bad command line.
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
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks a command line that could not be parsed.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		writeUsage(stderr)
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
	case "sim":
		err = runSim(ctx, args[1:], stdout, stderr)
	case "turn":
		err = runTurn(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		if len(args) > 1 && (args[1] == "-h" || args[1] == "--help") {
			versionCmd.writeHelp(stdout)
			return 0
		}
		printVersion(stdout)
		return 0
	case "help", "-h", "--help":
		if len(args) == 1 {
			writeUsage(stdout)
			return 0
		}
		c := findCommand(strings.Join(args[1:], " "))
		if c == nil {
			fmt.Fprintf(stderr, "pex help: no command %q; the commands are node, demo, bench getnewpeer, bench relay, bench swarm, bt swarm, bt crawl, sim, sim bt, turn and version\n", strings.Join(args[1:], " "))
			return 2
		}
		c.writeHelp(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "pex: unknown command %q; the commands are node, demo, bench getnewpeer, bench relay, bench swarm, bt swarm, bt crawl, sim, sim bt, turn, version and help\nRun \"pex --help\" for usage.\n", args[0])
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
