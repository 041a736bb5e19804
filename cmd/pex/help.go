package main

import (
	"flag"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"
)

// prog is pex as its --help shows it. docs/pex.md holds the same text as
// the commands' help (TestDocsMatchHelp).
var prog = cli.NewProgram("pex",
	"pex: peer exchange. PXP, the protocol of the npm package peer-exchange, and\n"+
		"BitTorrent PEX (ut_pex and Vuze's AZMP), in one command.",
	"Run \"pex help COMMAND\" or \"pex COMMAND -h\" for a command's description,\n"+
		"examples and flags. Exit status: 0 done, 1 failed (the reason is printed),\n"+
		"2 bad command line, 130 pex demo interrupted (128 and the signal's number).\n"+
		"--log-level debug (or PEX_DEBUG=1) logs the protocols to stderr.",
	nodeCmd, demoCmd, btSwarmCmd, btCrawlCmd, turnCmd, keygenCmd, versionCmd)

var versionCmd = &cli.Command{
	Name:    "version",
	Summary: "print the version, VCS revision and Go version",
	About: "Prints one line: pex's release, the VCS revision and whether the tree was " +
		"modified (when the build recorded them), and the Go toolchain; with --json, one " +
		"object: version, revision, modified and go. The same release is the client " +
		"string pex gives BitTorrent peers. --version is the same.",
	Examples: []string{"pex version", "pex version --json"},
	Flags:    func() *flag.FlagSet { return new(versionOpts).flagSet() },
}
