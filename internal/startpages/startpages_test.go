//go:build linux

package startpages

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func rssFileKiB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "RssFile:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatal("no RssFile")
	return 0
}

var (
	written = []int{1, 2, 3}
	sink    byte
)

// Release drops the test binary's resident executable pages, and the
// process goes on: code runs, read-only data reads back, data it wrote
// stays written.
func TestReleaseKeepsProcessWorking(t *testing.T) {
	written[1] = 42
	before := rssFileKiB(t)
	n, err := Release()
	if err != nil {
		t.Fatal(err)
	}
	after := rssFileKiB(t)
	t.Logf("released %d KiB of executable pages; RssFile %d -> %d KiB", n>>10, before, after)
	if n == 0 || after >= before {
		t.Fatalf("released %d bytes, RssFile %d -> %d KiB", n, before, after)
	}
	var v struct{ A []int }
	if err := json.Unmarshal([]byte(`{"A":[4,5]}`), &v); err != nil || fmt.Sprint(v.A) != "[4 5]" {
		t.Fatalf("json after Release: %v %v", v, err)
	}
	if !regexp.MustCompile(`^p(e)x$`).MatchString("pex") || written[1] != 42 {
		t.Fatalf("after Release: regexp or data wrong (%v)", written)
	}
}

// In a read-only private file mapping, releaseRange drops the pages still
// backed by the file and keeps the one written before the mapping was
// made read-only (as a dynamic loader's relocations are).
func TestReleaseRangeKeepsWrittenPages(t *testing.T) {
	page := os.Getpagesize()
	path := filepath.Join(t.TempDir(), "file")
	content := bytes.Repeat([]byte("f"), 4*page)
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, 4*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	sink = m[0] + m[2*page] + m[3*page] // resident, file-backed
	m[page] = 'w'                       // resident, anonymous (copied on write)
	if err := unix.Mprotect(m, unix.PROT_READ); err != nil {
		t.Fatal(err)
	}
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	lo := uintptr(unsafe.Pointer(&m[0]))
	n, err := releaseRange(pm, lo, lo+uintptr(4*page), uintptr(page))
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(3*page) {
		t.Errorf("released %d bytes, want the 3 file-backed pages (%d)", n, 3*page)
	}
	if m[page] != 'w' || m[0] != 'f' || m[3*page] != 'f' {
		t.Fatalf("after releaseRange: written page %q, file pages %q %q", m[page], m[0], m[3*page])
	}
}
