package proc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// Memory is what a process holds, in KiB, read from the kernel's own
// accounting. RSS counts every page mapped in, the executable's and the
// libraries' clean pages among them: those are shared with the page cache
// and cost the machine nothing per process. Anon is the process's own
// memory (heap, stacks, runtime: pages no one else holds), the honest
// figure for what one more process costs; PSS splits shared pages among
// their sharers. The project reports RSS and Anon side by side, and
// compares programs (Go against the JS reference) on Anon.
type Memory struct {
	Peak int // VmHWM: the largest RSS so far
	RSS  int // Rss of smaps_rollup: every mapped page
	PSS  int // Pss: shared pages divided among their sharers
	Anon int // Anonymous: the process's own pages
	File int // RSS less Anon: pages backed by files (executable, libraries)
}

// ReadMemory reads a process's Memory from /proc/PID/smaps_rollup (and
// its peak from /proc/PID/status).
func ReadMemory(pid int) (Memory, error) {
	var m Memory
	roll, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return m, err
	}
	if err := readKiB(roll, map[string]*int{"Rss:": &m.RSS, "Pss:": &m.PSS, "Anonymous:": &m.Anon}); err != nil {
		return m, fmt.Errorf("smaps_rollup: %w", err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, err
	}
	if err := readKiB(status, map[string]*int{"VmHWM:": &m.Peak}); err != nil {
		return m, fmt.Errorf("status: %w", err)
	}
	m.File = m.RSS - m.Anon
	return m, nil
}

// readKiB fills fields from "Name:   123 kB" lines; each must be there.
func readKiB(b []byte, fields map[string]*int) error {
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 2 {
			continue
		}
		p := fields[string(f[0])]
		if p == nil {
			continue
		}
		v, err := strconv.Atoi(string(f[1]))
		if err != nil {
			return fmt.Errorf("%s %q: %w", f[0], f[1], err)
		}
		*p = v
		found++
	}
	if found < len(fields) {
		return errors.New("a field is missing")
	}
	return nil
}

// String is "RSS 21.3 MiB, anon 9.1 MiB".
func (m Memory) String() string {
	return fmt.Sprintf("RSS %.1f MiB, anon %.1f MiB", float64(m.RSS)/1024, float64(m.Anon)/1024)
}
