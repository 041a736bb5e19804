// Command pexlab is the developers' command: the benchmarks that measure a
// pex binary against its baselines (the JS reference, libtorrent, pion's
// own schedule, another build of pex) and the simulators that run
// thousands of engines in one process.
//
//	pexlab bench getnewpeer [flags]   GetNewPeer, Go against the JS reference
//	pexlab bench relay [flags]        a relay holding many idle links
//	pexlab bench swarm [flags]        a swarm of many idle peers, pex against libtorrent
//	pexlab sim [flags]                thousands of PXP nodes in one process
//	pexlab sim bt [flags]             thousands of BitTorrent peers in one process
//	pexlab soak pxp [flags]           a public relay under churn, checked for growth
//	pexlab soak bt [flags]            a BitTorrent swarm under churn, checked for growth
//
// Where a bench measures a pex process it runs the binary given with
// --pex (default: "pex" beside pexlab's own executable, else on PATH).
// "pexlab help COMMAND" prints a command's description, examples and
// flags; docs/pexlab.md holds them all. BENCHMARKS.md records the results.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// prog is pexlab as its --help shows it; docs/pexlab.md holds the same
// text (TestDocsMatchHelp).
var prog = cli.NewProgram("pexlab",
	"pexlab: the pex project's laboratory. Benchmarks that measure a pex binary\n"+
		"against its baselines, simulators of whole networks in one process, and soaks\n"+
		"that run a pex process under churn and check that nothing it holds grows.",
	"Run \"pexlab help COMMAND\" or \"pexlab COMMAND -h\" for a command's\n"+
		"description, examples and flags. Exit status: 0 done, 1 failed (the reason\n"+
		"is printed), 2 bad command line. BENCHMARKS.md records the results.",
	benchCmd, benchRelayCmd, benchSwarmCmd, simCmd, simBTCmd, soakPXPCmd, soakBTCmd)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		prog.WriteUsage(stderr)
		return 2
	}
	var err error
	switch args[0] {
	case "bench":
		err = runBench(ctx, args[1:], stdout, stderr)
	case "sim":
		err = runSim(ctx, args[1:], stdout, stderr)
	case "soak":
		err = runSoak(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		return prog.HelpCommand(args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "pexlab: unknown command %q; the commands are %s, and help\nRun \"pexlab --help\" for usage.\n", args[0], prog.Names())
		return 2
	}
	return prog.Exit(ctx, err, stderr)
}
