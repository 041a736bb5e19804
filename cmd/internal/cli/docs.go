package cli

import (
	"fmt"
	"os"
	"strings"
)

// A program's reference in markdown (docs/pex.md, docs/pexlab.md) is
// written by hand around blocks generated from the help: after a marker
// line "<!-- PROG help NAME -->" (NAME "--help" for the program's usage)
// comes a ```text fence holding exactly what that help prints.

// Help is what "PROG --help" prints when name is "--help", else what
// "PROG NAME -h" prints; "" when no command is called name.
func (p *Program) Help(name string) string {
	var sb strings.Builder
	if name == "--help" {
		p.WriteUsage(&sb)
		return sb.String()
	}
	for _, c := range p.Commands {
		if c.Name == name {
			c.WriteHelp(&sb)
			return sb.String()
		}
	}
	return ""
}

// RenderDocs returns doc, a markdown reference of p, with the block after
// each marker line replaced by the help it names (a marker is a line of
// its own; the same text inside a line is prose). It fails when the usage
// or a command has no block, when a marker names no command or comes
// twice, or when a marker is not followed by a closed ```text fence.
func (p *Program) RenderDocs(doc string) (string, error) {
	const open, closing = "```text", "```"
	prefix := "<!-- " + p.Name + " help "
	seen := map[string]bool{}
	lines := strings.SplitAfter(doc, "\n")
	var out strings.Builder
	for i := 0; i < len(lines); i++ {
		out.WriteString(lines[i])
		line := strings.TrimSuffix(lines[i], "\n")
		if !strings.HasPrefix(line, prefix) || !strings.HasSuffix(line, " -->") {
			continue
		}
		name := strings.TrimSuffix(strings.TrimPrefix(line, prefix), " -->")
		help := p.Help(name)
		switch {
		case help == "":
			return "", fmt.Errorf("line %d: a block for %q, which is no command of %s", i+1, name, p.Name)
		case seen[name]:
			return "", fmt.Errorf("line %d: a second block for %s %s", i+1, p.Name, name)
		case i+1 >= len(lines) || lines[i+1] != open+"\n":
			return "", fmt.Errorf("line %d: the marker of %s %s is not followed by a %s fence", i+1, p.Name, name, open)
		}
		seen[name] = true
		end := i + 2
		for end < len(lines) && strings.TrimSuffix(lines[end], "\n") != closing {
			end++
		}
		if end == len(lines) {
			return "", fmt.Errorf("line %d: the block of %s %s is not closed", i+2, p.Name, name)
		}
		out.WriteString(lines[i+1] + help + lines[end])
		i = end
	}
	for _, name := range append([]string{"--help"}, p.names()...) {
		if !seen[name] {
			return "", fmt.Errorf("no block for %s %s (a line %s%s -->, then a %s fence)", p.Name, name, prefix, name, open)
		}
	}
	return out.String(), nil
}

func (p *Program) names() []string {
	var names []string
	for _, c := range p.Commands {
		names = append(names, c.Name)
	}
	return names
}

// SyncDocs renders the reference in the file at path (RenderDocs). When
// the file differs from what the help says, it is rewritten if write is
// set; otherwise the error names the first line that differs.
func (p *Program) SyncDocs(path string, write bool) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	want, err := p.RenderDocs(string(b))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if want == string(b) {
		return nil
	}
	if write {
		return os.WriteFile(path, []byte(want), 0o644)
	}
	have, should := strings.Split(string(b), "\n"), strings.Split(want, "\n")
	n := 0
	for n < len(have) && n < len(should) && have[n] == should[n] {
		n++
	}
	line := func(ls []string) string {
		if n < len(ls) {
			return ls[n]
		}
		return "(end of file)"
	}
	return fmt.Errorf("%s:%d differs from %s's help:\n  file: %s\n  help: %s", path, n+1, p.Name, line(have), line(should))
}
