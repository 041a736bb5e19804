package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"

	pkgversion "github.com/seed0021ed4d/pex/internal/version"
)

// version is pex's release (also the client version BitTorrent peers see).
const version = pkgversion.Release

// buildVersion is what pex version reports.
type buildVersion struct {
	Version  string `json:"version"`
	Revision string `json:"revision"` // the VCS revision, "" when the build recorded none
	Modified bool   `json:"modified"` // the tree had changes not committed
	Go       string `json:"go"`       // the toolchain
}

func readBuildVersion() buildVersion {
	v := buildVersion{Version: version}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, kv := range bi.Settings {
			switch kv.Key {
			case "vcs.revision":
				v.Revision = kv.Value
			case "vcs.modified":
				v.Modified = kv.Value == "true"
			}
		}
		v.Go = bi.GoVersion
	}
	return v
}

// versionLine says which pex this is: the release, the VCS revision it
// was built from (when the build recorded one) and the Go toolchain.
func versionLine() string {
	v := readBuildVersion()
	s := "pex " + v.Version
	if rev := v.Revision; rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		modified := ""
		if v.Modified {
			modified = ", modified"
		}
		s += fmt.Sprintf(" (rev %s%s)", rev, modified)
	}
	if v.Go != "" {
		s += ", " + v.Go
	}
	return s
}

type versionOpts struct{ json bool }

func (o *versionOpts) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("pex version", flag.ContinueOnError)
	fs.BoolVar(&o.json, "json", false, "print one JSON object: version, revision (in full), modified, go")
	return fs
}

// runVersion prints the version line, or with --json the object.
func runVersion(args []string, stdout, stderr io.Writer) error {
	var o versionOpts
	fs := o.flagSet()
	if err := versionCmd.ParseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	c := cli.Checks{Cmd: "pex version"}
	c.NoArgs(fs.Args())
	if err := c.Report(stderr); err != nil {
		return err
	}
	if !o.json {
		fmt.Fprintln(stdout, versionLine())
		return nil
	}
	b, err := json.Marshal(readBuildVersion())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n", b)
	return nil
}
