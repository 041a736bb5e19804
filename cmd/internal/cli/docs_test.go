package cli

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testProgram() *Program {
	return NewProgram("toy", "toy: a program.", "The end.", &Command{
		Name: "run", Summary: "run it", About: "Runs.", Examples: []string{"toy run"},
		Flags: func() *flag.FlagSet {
			fs := flag.NewFlagSet("toy run", flag.ContinueOnError)
			fs.Bool("fast", false, "go fast")
			return fs
		},
	})
}

// The blocks after the markers become the help; the prose around them,
// a marker's text inside a line included, is kept as written; a missing, unknown, doubled or unclosed block is an
// error.
func TestRenderDocs(t *testing.T) {
	p := testProgram()
	doc := "# toy\n\nBlocks follow `<!-- toy help NAME -->` lines.\n\n<!-- toy help --help -->\n```text\nstale\n```\n\nprose\n\n## run\n\n<!-- toy help run -->\n```text\n```\n\nmore prose\n"
	got, err := p.RenderDocs(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := "# toy\n\nBlocks follow `<!-- toy help NAME -->` lines.\n\n<!-- toy help --help -->\n```text\n" + p.Help("--help") + "```\n\nprose\n\n## run\n\n<!-- toy help run -->\n```text\n" + p.Help("run") + "```\n\nmore prose\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(got, "--fast\n      go fast") {
		t.Fatalf("the run block lacks its flag:\n%s", got)
	}
	again, err := p.RenderDocs(got)
	if err != nil || again != got {
		t.Fatalf("rendering twice changed the text (%v)", err)
	}
	for _, bad := range []string{
		"<!-- toy help --help -->\n```text\n```\n",                                             // no block for run
		"<!-- toy help --help -->\n```text\n```\n<!-- toy help walk -->\n```text\n```\n",       // no such command
		"<!-- toy help --help -->\n```text\n```\n<!-- toy help --help -->\n```text\n```\n",     // twice
		"<!-- toy help --help -->\n```text\n```\n<!-- toy help run -->\n```text\nopen",         // not closed
		"<!-- toy help --help -->\n```text\n```\n<!-- toy help run -->\n```go\n```\n",          // not text
		"<!-- toy help --help -->\n```text\n```\n<!-- toy help run -->\nprose\n```text\n```\n", // not next
	} {
		if _, err := p.RenderDocs(bad); err == nil {
			t.Errorf("no error for\n%s", bad)
		}
	}
}

// SyncDocs names the first line that differs, and rewrites the file when
// asked.
func TestSyncDocs(t *testing.T) {
	p := testProgram()
	path := filepath.Join(t.TempDir(), "toy.md")
	doc := "<!-- toy help --help -->\n```text\n```\n<!-- toy help run -->\n```text\n```\n"
	os.WriteFile(path, []byte(doc), 0o644)
	err := p.SyncDocs(path, false)
	if err == nil || !strings.Contains(err.Error(), "toy.md:3 ") {
		t.Fatalf("got %v, want an error at line 3", err)
	}
	if err := p.SyncDocs(path, true); err != nil {
		t.Fatal(err)
	}
	if err := p.SyncDocs(path, false); err != nil {
		t.Fatalf("after the rewrite: %v", err)
	}
}
