package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// unitFile is the systemd unit the repository ships for pex node.
const unitFile = "../../contrib/systemd/pex-node.service"

func readUnit(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// unitValue is the value of the unit's first key= line.
func unitValue(unit, key string) string {
	for _, line := range strings.Split(unit, "\n") {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			return v
		}
	}
	return ""
}

// systemd-analyze verify finds nothing wrong with the unit: its
// directives, sections and command exist (the command is the binary this
// test builds, in the unit's place; the rest of the unit is checked as
// shipped).
func TestSystemdUnitVerifies(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("systemd-analyze is not installed (Debian: systemd)")
		}
		t.Skip("systemd-analyze is not installed (Debian: systemd): the unit is not verified")
	}
	unit := readUnit(t)
	cmdPath := strings.Fields(unitValue(unit, "ExecStart"))[0]
	bin := buildPex(t)
	path := filepath.Join(t.TempDir(), "pex-node.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(unit, cmdPath, bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runCommand(analyze, "verify", path)
	if err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	// What systemd says of its confinement, for the log (not a test of
	// systemd's scoring).
	if out, err := runCommand(analyze, "security", "--offline=yes", path); err == nil {
		if i := strings.Index(out, "Overall exposure level"); i >= 0 {
			t.Log(strings.TrimSpace(out[i:]))
		}
	}
}

func runCommand(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// The unit runs as a user of its own, with no capabilities, on a
// read-only system, its state under StateDirectory, and its command line
// is one pex node accepts.
func TestSystemdUnitCommandLine(t *testing.T) {
	unit := readUnit(t)
	for key, want := range map[string]string{
		"User": "pex", "CapabilityBoundingSet": "", "AmbientCapabilities": "", "NoNewPrivileges": "yes",
		"ProtectSystem": "strict", "StateDirectory": "pex", "KillSignal": "SIGTERM",
		"ExecReload": "/bin/kill -HUP $MAINPID", "RestartPreventExitStatus": "2",
	} {
		if !strings.Contains(unit, "\n"+key+"=") || unitValue(unit, key) != want {
			t.Errorf("%s=%q, want %q", key, unitValue(unit, key), want)
		}
	}
	// systemd's expansion: ${STATE_DIRECTORY} whole, $PEX_NODE_FLAGS
	// split at spaces, from the unit's Environment= line.
	env := strings.Trim(unitValue(unit, "Environment"), `"`)
	flags, ok := strings.CutPrefix(env, "PEX_NODE_FLAGS=")
	if !ok {
		t.Fatalf("Environment=%s, want PEX_NODE_FLAGS=...", env)
	}
	var args []string
	for _, w := range strings.Fields(unitValue(unit, "ExecStart"))[1:] {
		switch w {
		case "${STATE_DIRECTORY}":
			args = append(args, t.TempDir())
		case "$PEX_NODE_FLAGS":
			args = append(args, strings.Fields(flags)...)
		default:
			args = append(args, w)
		}
	}
	if args[0] != "node" {
		t.Fatalf("ExecStart runs pex %s, want pex node", args[0])
	}
	var o nodeOpts
	fs := o.flagSet()
	var stderr strings.Builder
	if err := nodeCmd.ParseFlags(fs, args[1:], io.Discard, &stderr); err != nil {
		t.Fatalf("pex %s: %v %s", strings.Join(args, " "), err, stderr.String())
	}
	if err := o.check(fs, &stderr); err != nil {
		t.Fatalf("pex %s: %v %s", strings.Join(args, " "), err, stderr.String())
	}
}

// README.md and docs/operating.md show the unit as the repository ships
// it (but its install comment).
func TestDocsShowTheUnit(t *testing.T) {
	unit := readUnit(t)
	body := unit[strings.Index(unit, "[Unit]"):]
	for _, doc := range []string{"../../README.md", "../../docs/operating.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "```ini\n"+body+"```\n") {
			t.Errorf("%s does not show %s as it is (from [Unit] on, in an ini block)", doc, unitFile)
		}
	}
}
