package interop

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/seed0021ed4d/pex/lab/proc"

	"go.uber.org/goleak"
)

// TestMain runs the interop tests inside a private network namespace that
// has only loopback, when it can make one (root, unshare and ip present):
// the real clients then cannot reach anything but each other, whatever
// their settings. Elsewhere they run on the host's loopback addresses.
func TestMain(m *testing.M) {
	if os.Getenv("PEX_NETNS") == "" && os.Geteuid() == 0 {
		unshare, err1 := exec.LookPath("unshare")
		ip, err2 := exec.LookPath("ip")
		if err1 == nil && err2 == nil {
			self, _ := os.Executable()
			cmd := exec.Command(unshare, append([]string{"-n", "--", "sh", "-c", `"$0" link set lo up && exec "$@"`, ip, self}, os.Args[1:]...)...)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
			cmd.Env = append(os.Environ(), "PEX_NETNS=1")
			if err := cmd.Run(); err != nil {
				if ee, ok := err.(*exec.ExitError); ok {
					os.Exit(ee.ExitCode())
				}
				fmt.Fprintln(os.Stderr, "interop: could not enter a network namespace:", err)
				os.Exit(1)
			}
			os.Exit(0)
		}
	}
	goleak.VerifyTestMain(m)
}

func repoRoot() string { return proc.Root() }

// Under CI (root, with unshare), the interop tests run in a namespace whose
// only interface is loopback.
func TestInPrivateNetworkNamespace(t *testing.T) {
	if os.Getenv("PEX_NETNS") != "1" {
		if os.Getenv("CI") == "true" && os.Geteuid() == 0 {
			t.Fatal("not running inside the private network namespace")
		}
		t.Skip("no private network namespace here")
	}
	out, err := exec.Command("ip", "-o", "link").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], ": lo:") {
		t.Fatalf("interfaces here: %s", out)
	}
}

func requireProgram(t *testing.T, prog, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (Debian package %s)", prog, pkg)
		}
		t.Skipf("%s is not installed", prog)
	}
	return p
}
