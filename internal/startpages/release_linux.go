package startpages

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Page map entry bits (the kernel's Documentation/admin-guide/mm/pagemap.rst).
const (
	pmPresent  = 1 << 63
	pmSwapped  = 1 << 62
	pmFilePage = 1 << 61
)

// Release unmaps the resident pages of the read-only mappings of the
// executable and the shared libraries it loaded (the files it maps code
// from) that are still backed by their file, and returns how many bytes
// were resident in them.
func Release() (int64, error) {
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	type mapping struct {
		lo, hi uintptr
		perms  string
		path   string
	}
	var all []mapping
	code := map[string]bool{} // files mapped executable
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		// Anonymous and special mappings ([vdso], [stack]) have no path
		// or one in brackets; a replaced or deleted file reads
		// "... (deleted)", a seventh field: all are left alone.
		if len(f) != 6 || !strings.HasPrefix(f[5], "/") {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		a, err1 := strconv.ParseUint(lo, 16, 64)
		z, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil || z <= a {
			return 0, fmt.Errorf("startpages: bad maps line %q", line)
		}
		all = append(all, mapping{uintptr(a), uintptr(z), f[1], f[5]})
		if f[1] == "r-xp" {
			code[f[5]] = true
		}
	}
	var ranges [][2]uintptr
	for _, m := range all {
		if code[m.path] && (m.perms == "r-xp" || m.perms == "r--p") {
			ranges = append(ranges, [2]uintptr{m.lo, m.hi})
		}
	}
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		return 0, err
	}
	defer pm.Close()
	page := uintptr(os.Getpagesize())
	var released int64
	for _, r := range ranges {
		n, err := releaseRange(pm, r[0], r[1], page)
		released += n
		if err != nil {
			return released, err
		}
	}
	return released, nil
}

// releaseRange releases [lo, hi) in runs of pages that are either not
// resident or resident and backed by the file, skipping anonymous ones.
func releaseRange(pm *os.File, lo, hi, page uintptr) (int64, error) {
	entries := make([]byte, (hi-lo)/page*8)
	if _, err := pm.ReadAt(entries, int64(lo/page*8)); err != nil && err != io.EOF {
		return 0, err
	}
	var released int64
	start := lo
	flush := func(end uintptr) error {
		if end > start {
			// The range is addresses, not Go memory: madvise by
			// system call rather than through a slice over them.
			if _, _, errno := unix.Syscall(unix.SYS_MADVISE, start, end-start, unix.MADV_DONTNEED); errno != 0 {
				return errno
			}
		}
		return nil
	}
	for i := uintptr(0); lo+i*page < hi; i++ {
		e := binary.LittleEndian.Uint64(entries[i*8:])
		addr := lo + i*page
		switch {
		case e&pmPresent != 0 && e&pmFilePage != 0:
			released += int64(page)
		case e&pmPresent != 0 || e&pmSwapped != 0: // anonymous: written to, keep it
			if err := flush(addr); err != nil {
				return released, err
			}
			start = addr + page
		}
	}
	return released, flush(hi)
}
