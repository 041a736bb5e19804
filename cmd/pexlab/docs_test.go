package main

import (
	"os"
	"testing"
)

// docs/pexlab.md holds, after each marker line "<!-- pexlab help NAME -->",
// exactly what the command's help prints (the prose around the blocks is
// written by hand; cmd/pex's TestDocsListEveryEvent checks it names every
// event). PEX_UPDATE_DOCS=1 go test -run TestDocsMatchHelp ./cmd/pex
// ./cmd/pexlab rewrites the blocks from the commands.
func TestDocsMatchHelp(t *testing.T) {
	if err := prog.SyncDocs("../../docs/pexlab.md", os.Getenv("PEX_UPDATE_DOCS") == "1"); err != nil {
		t.Errorf("%v\n(PEX_UPDATE_DOCS=1 go test -run TestDocsMatchHelp ./cmd/pexlab rewrites the help blocks)", err)
	}
}
