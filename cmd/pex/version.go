package main

import (
	"fmt"
	"io"
	"runtime/debug"

	pkgversion "github.com/seed0021ed4d/pex/internal/version"
)

// version is pex's release (also the client version BitTorrent peers see).
const version = pkgversion.Release

// versionLine says which pex this is: the release, the VCS revision it
// was built from (when the build recorded one) and the Go toolchain.
func versionLine() string {
	s := "pex " + version
	if bi, ok := debug.ReadBuildInfo(); ok {
		var rev, modified string
		for _, kv := range bi.Settings {
			switch kv.Key {
			case "vcs.revision":
				rev = kv.Value
			case "vcs.modified":
				if kv.Value == "true" {
					modified = ", modified"
				}
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			s += fmt.Sprintf(" (rev %s%s)", rev, modified)
		}
		s += ", " + bi.GoVersion
	}
	return s
}

func printVersion(w io.Writer) { fmt.Fprintln(w, versionLine()) }
