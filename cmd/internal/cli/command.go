package cli

import (
	"context"
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

// Find returns the command called name, or nil.
func (p *Program) Find(name string) *Command {
	for _, c := range p.Commands {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Group returns the commands whose names begin with name and a space:
// "bt" holds "bt swarm" and "bt crawl".
func (p *Program) Group(name string) []*Command {
	var cs []*Command
	for _, c := range p.Commands {
		if strings.HasPrefix(c.Name, name+" ") {
			cs = append(cs, c)
		}
	}
	return cs
}

// GroupNames lists the group's commands by their last word for a
// message: "getnewpeer, relay and swarm".
func (p *Program) GroupNames(name string) string {
	var names []string
	for _, c := range p.Group(name) {
		names = append(names, strings.TrimPrefix(c.Name, name+" "))
	}
	return andList(names)
}

// WriteGroup prints what "PROG help NAME" and "PROG NAME -h" print for
// a group of commands: each one's synopsis and summary, and where their
// flags are described. It reports false, printing nothing, when no
// command belongs to name.
func (p *Program) WriteGroup(w io.Writer, name string) bool {
	cs := p.Group(name)
	if len(cs) == 0 {
		return false
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %s: the commands are %s\n\nusage:\n", p.Name, name, p.GroupNames(name))
	for _, c := range cs {
		for _, l := range strings.Split(c.Synopsis(), "\n") {
			sb.WriteString("  " + l + "\n")
		}
	}
	sb.WriteString("\ncommands:\n")
	for _, c := range cs {
		fmt.Fprintf(&sb, "  %-19s %s\n", c.Name, c.Summary)
	}
	fmt.Fprintf(&sb, "\nRun \"%s help %s\" or \"%s %s -h\" for a command's description,\nexamples and flags.\n",
		p.Name, cs[0].Name, p.Name, cs[0].Name)
	io.WriteString(w, sb.String())
	return true
}

// WriteCommandHelp prints the help of the command or group called name
// (pex help bt, pex help bt swarm); it reports false when there is none.
func (p *Program) WriteCommandHelp(w io.Writer, name string) bool {
	if c := p.Find(name); c != nil {
		c.WriteHelp(w)
		return true
	}
	return p.WriteGroup(w, name)
}

// Names lists the commands' names for an error message: "a, b and c".
func (p *Program) Names() string { return andList(p.names()) }

// andList is "a, b and c".
func andList(names []string) string {
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
// returns flag.ErrHelp; a bad flag prints what is wrong in the help's
// words (FlagError: "pex node: --duration: want a duration such as 30s
// or 2m, got "1"", a misspelt flag's nearest one) and a pointer to -h on
// stderr, and returns ErrUsage.
func (c *Command) ParseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.SetOutput(io.Discard) // the flag package's own words are rewritten
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		c.WriteHelp(stdout)
		return err
	}
	fmt.Fprintf(stderr, "%s %s: %s\n", c.prog, c.Name, FlagError(fs, err))
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
		usage += defaultNote(f, usage)
		flags.WriteString(Wrap(usage, 78, "      "))
	})
	if flags.Len() > 0 {
		sb.WriteString("\nflags:\n" + flags.String())
	}
	io.WriteString(w, sb.String())
}

// defaultNote is what the help adds to a flag's usage so that its default
// is stated: "(default X)" for a default that is not zero; for a zero one,
// nothing when the usage says what it means (StatesDefault: "(0: keep
// trying)", "(default: ...)", "(none: ...)"), when the flag is required,
// or when it is a switch (off unless given); else "(default: none)" or
// "(default 0)".
func defaultNote(f *flag.Flag, usage string) string {
	if !isZeroDefault(f.DefValue) {
		return " (default " + f.DefValue + ")"
	}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); (ok && b.IsBoolFlag()) || StatesDefault(usage) {
		return ""
	}
	if f.DefValue == "" || f.DefValue == "[]" {
		return " (default: none)"
	}
	return " (default " + f.DefValue + ")"
}

// StatesDefault reports whether a flag's usage says what its zero default
// means: it speaks of its default, of 0 ("0: keep trying"), of none
// ("none: STUN only"), or says the flag is required.
func StatesDefault(usage string) bool {
	for _, s := range []string{"default", "0:", "none", "required"} {
		if strings.Contains(usage, s) {
			return true
		}
	}
	return false
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

// HelpCommand answers "PROG help [COMMAND]" (args are the words after help): the
// program's usage, or the command's (or group's) help, with the exit
// status: 0, or 2 for a command that does not exist.
func (p *Program) HelpCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		p.WriteUsage(stdout)
		return 0
	}
	if name := strings.Join(args, " "); !p.WriteCommandHelp(stdout, name) {
		fmt.Fprintf(stderr, "%s help: no command %q; the commands are %s\n", p.Name, name, p.Names())
		return 2
	}
	return 0
}

// Exit is the exit status for what a command returned, the error printed
// on stderr when there is one to print: 0 done (or -h answered), 2 a bad
// command line (already explained), 128+N for an interrupt by signal N,
// 1 any other failure.
func (p *Program) Exit(ctx context.Context, err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrUsage):
		return 2
	case errors.Is(err, ErrInterrupted):
		fmt.Fprintln(stderr, p.Name+":", err)
		return InterruptedStatus(ctx)
	default:
		fmt.Fprintln(stderr, p.Name+":", err)
		return 1
	}
}
