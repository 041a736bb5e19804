package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// command is one pex command as its help describes it. The synopsis and
// the flag list are generated from the command's flag set, so that help
// cannot miss a flag; README.md holds the same text (TestREADMEMatchesHelp).
type command struct {
	name     string   // as typed after pex: "node", "bt swarm"
	summary  string   // one line, for pex --help
	lead     string   // the synopsis before the optional flags, e.g. "--network ID"
	required []string // flags the lead covers
	about    string   // a paragraph
	examples []string
	flags    func() *flag.FlagSet // a fresh flag set (values bound to throwaway options)
}

// commands, in the order pex --help lists them.
var commands = []*command{nodeCmd, demoCmd, benchCmd, benchRelayCmd, benchSwarmCmd, btSwarmCmd, btCrawlCmd, simCmd, simBTCmd, turnCmd, versionCmd}

var versionCmd = &command{
	name:    "version",
	summary: "print the version, VCS revision and Go version",
	about: "Prints one line: pex's release, the VCS revision and whether the tree was " +
		"modified (when the build recorded them), and the Go toolchain. The same " +
		"release is the client string pex gives BitTorrent peers. --version is the same.",
	examples: []string{"pex version"},
	flags:    func() *flag.FlagSet { return flag.NewFlagSet("pex version", flag.ContinueOnError) },
}

func findCommand(name string) *command {
	for _, c := range commands {
		if c.name == name || strings.HasPrefix(c.name, name+" ") {
			return c
		}
	}
	return nil
}

// parseFlags parses args with fs. -h prints c's help to stdout and returns
// flag.ErrHelp; a bad flag prints the parser's complaint and a pointer to
// -h on stderr and returns errUsage.
func (c *command) parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		c.writeHelp(stdout)
		return err
	}
	fmt.Fprintf(stderr, "Run \"pex %s -h\" for its flags and examples.\n", c.name)
	return errUsage
}

// synopsis is "pex NAME LEAD [--flag VALUE]...", wrapped to 80 columns with
// continuation lines indented under the first flag.
func (c *command) synopsis() string {
	head := "pex " + c.name
	parts := []string{}
	if c.lead != "" {
		parts = append(parts, c.lead)
	}
	c.flags().VisitAll(func(f *flag.Flag) {
		if slices.Contains(c.required, f.Name) {
			return
		}
		parts = append(parts, "["+flagForm(f)+"]"+repeatMark(f))
	})
	indent := strings.Repeat(" ", len(head)+1)
	var sb strings.Builder
	line := head
	for _, p := range parts {
		if len(line)+1+len(p) > 80 {
			sb.WriteString(line + "\n")
			line = indent + p
			continue
		}
		line += " " + p
	}
	sb.WriteString(line)
	return sb.String()
}

// flagForm is "--name VALUE", or "--name" for a boolean flag.
func flagForm(f *flag.Flag) string {
	name, _ := flag.UnquoteUsage(f)
	if name == "" {
		return "--" + f.Name
	}
	return "--" + f.Name + " " + name
}

func repeatMark(f *flag.Flag) string {
	if _, ok := f.Value.(*listFlag); ok {
		return "..."
	}
	return ""
}

// writeHelp prints what pex NAME -h prints.
func (c *command) writeHelp(w io.Writer) {
	var sb strings.Builder
	fmt.Fprintf(&sb, "pex %s: %s\n\nusage:\n", c.name, c.summary)
	for _, l := range strings.Split(c.synopsis(), "\n") {
		sb.WriteString("  " + l + "\n")
	}
	sb.WriteString("\n")
	sb.WriteString(wrap(c.about, 78, ""))
	if len(c.examples) > 0 {
		sb.WriteString("\nexamples:\n")
		for _, e := range c.examples {
			sb.WriteString("  " + e + "\n")
		}
	}
	var flags strings.Builder
	c.flags().VisitAll(func(f *flag.Flag) {
		_, usage := flag.UnquoteUsage(f)
		flags.WriteString("  " + flagForm(f) + "\n")
		if !isZeroDefault(f.DefValue) {
			usage += " (default " + f.DefValue + ")"
		}
		flags.WriteString(wrap(usage, 78, "      "))
	})
	if flags.Len() > 0 {
		sb.WriteString("\nflags:\n" + flags.String())
	}
	io.WriteString(w, sb.String())
}

func isZeroDefault(v string) bool {
	switch v {
	case "", "0", "false", "0s", "[]":
		return true
	}
	return false
}

// writeUsage prints pex --help: every command's synopsis and summary.
func writeUsage(w io.Writer) {
	var sb strings.Builder
	sb.WriteString("pex: peer exchange. PXP, the protocol of the npm package peer-exchange, and\n" +
		"BitTorrent PEX (ut_pex and Vuze's AZMP), in one command.\n\nusage:\n")
	for _, c := range commands {
		for _, l := range strings.Split(c.synopsis(), "\n") {
			sb.WriteString("  " + l + "\n")
		}
	}
	sb.WriteString("  pex help [COMMAND]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&sb, "  %-19s %s\n", c.name, c.summary)
	}
	sb.WriteString("\nRun \"pex help COMMAND\" or \"pex COMMAND -h\" for a command's description,\n" +
		"examples and flags. Exit status: 0 done, 1 failed (the reason is printed),\n" +
		"2 bad command line. PEX_DEBUG=1 logs the protocols to stderr.\n")
	io.WriteString(w, sb.String())
}

// wrap fills text to width columns, each line prefixed with indent.
func wrap(text string, width int, indent string) string {
	var sb strings.Builder
	line := indent
	for _, w := range strings.Fields(text) {
		if len(line) > len(indent) && len(line)+1+len(w) > width {
			sb.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += w
	}
	if len(line) > len(indent) {
		sb.WriteString(line + "\n")
	}
	return sb.String()
}
