package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// ErrUsage marks a command line that could not be parsed: the command has
// printed why, and the program exits 2.
var ErrUsage = errors.New("usage")

// Command is one command as its help describes it. The synopsis and the
// flag list are generated from the command's flag set, so that help
// cannot miss a flag; docs/ holds the same text (a test keeps it so).
type Command struct {
	Name     string   // as typed after the program's name: "node", "bt swarm"
	Summary  string   // one line, for --help
	Lead     string   // the synopsis before the optional flags, e.g. "--network ID"
	Required []string // flags the lead covers
	About    string   // a paragraph
	Examples []string
	Flags    func() *flag.FlagSet // a fresh flag set (values bound to throwaway options)

	prog string // the program's name, set by NewProgram
}

// Program is a command-line program made of commands.
type Program struct {
	Name     string // "pex"
	Intro    string // the paragraph atop --help
	Footer   string // the paragraph at its end
	Commands []*Command
}

// NewProgram makes the program name of cmds, in the order --help lists them.
func NewProgram(name, intro, footer string, cmds ...*Command) *Program {
	for _, c := range cmds {
		c.prog = name
	}
	return &Program{Name: name, Intro: intro, Footer: footer, Commands: cmds}
}

// Find returns the command called name, or the first whose name starts
// with name and a space ("bt" finds "bt swarm"), or nil.
func (p *Program) Find(name string) *Command {
	for _, c := range p.Commands {
		if c.Name == name || strings.HasPrefix(c.Name, name+" ") {
			return c
		}
	}
	return nil
}

// Names lists the commands' names for an error message: "a, b and c".
func (p *Program) Names() string {
	names := p.names()
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// WriteUsage prints the program's --help: every command's synopsis and
// summary.
func (p *Program) WriteUsage(w io.Writer) {
	var sb strings.Builder
	sb.WriteString(p.Intro + "\n\nusage:\n")
	for _, c := range p.Commands {
		for _, l := range strings.Split(c.Synopsis(), "\n") {
			sb.WriteString("  " + l + "\n")
		}
	}
	sb.WriteString("  " + p.Name + " help [COMMAND]\n\ncommands:\n")
	for _, c := range p.Commands {
		fmt.Fprintf(&sb, "  %-19s %s\n", c.Name, c.Summary)
	}
	sb.WriteString("\n" + p.Footer + "\n")
	io.WriteString(w, sb.String())
}

// ParseFlags parses args with fs. -h prints c's help to stdout and
// returns flag.ErrHelp; a bad flag prints the parser's complaint and a
// pointer to -h on stderr and returns ErrUsage.
func (c *Command) ParseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		c.WriteHelp(stdout)
		return err
	}
	fmt.Fprintf(stderr, "Run \"%s %s -h\" for its flags and examples.\n", c.prog, c.Name)
	return ErrUsage
}

// Synopsis is "PROG NAME LEAD [--flag VALUE]...", wrapped to 80 columns
// with continuation lines indented under the first flag.
func (c *Command) Synopsis() string {
	head := c.prog + " " + c.Name
	parts := []string{}
	if c.Lead != "" {
		parts = append(parts, c.Lead)
	}
	c.Flags().VisitAll(func(f *flag.Flag) {
		if slices.Contains(c.Required, f.Name) {
			return
		}
		parts = append(parts, "["+FlagForm(f)+"]"+repeatMark(f))
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

// FlagForm is "--name VALUE", or "--name" for a boolean flag.
func FlagForm(f *flag.Flag) string {
	name, _ := flag.UnquoteUsage(f)
	if name == "" {
		return "--" + f.Name
	}
	return "--" + f.Name + " " + name
}

func repeatMark(f *flag.Flag) string {
	if _, ok := f.Value.(*ListFlag); ok {
		return "..."
	}
	return ""
}

// WriteHelp prints what "PROG NAME -h" prints.
func (c *Command) WriteHelp(w io.Writer) {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %s: %s\n\nusage:\n", c.prog, c.Name, c.Summary)
	for _, l := range strings.Split(c.Synopsis(), "\n") {
		sb.WriteString("  " + l + "\n")
	}
	sb.WriteString("\n")
	sb.WriteString(Wrap(c.About, 78, ""))
	if len(c.Examples) > 0 {
		sb.WriteString("\nexamples:\n")
		for _, e := range c.Examples {
			sb.WriteString("  " + e + "\n")
		}
	}
	var flags strings.Builder
	c.Flags().VisitAll(func(f *flag.Flag) {
		_, usage := flag.UnquoteUsage(f)
		flags.WriteString("  " + FlagForm(f) + "\n")
		if !isZeroDefault(f.DefValue) {
			usage += " (default " + f.DefValue + ")"
		}
		flags.WriteString(Wrap(usage, 78, "      "))
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

// Wrap fills text to width columns, each line prefixed with indent.
func Wrap(text string, width int, indent string) string {
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

// ListFlag is a repeatable string flag: each use adds one value.
type ListFlag []string

func (l *ListFlag) String() string { return strings.Join(*l, ",") }

// Set adds v.
func (l *ListFlag) Set(v string) error { *l = append(*l, v); return nil }
