package proc

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Usage is what a process holds.
type Usage struct {
	RSSKiB     int // resident memory: every page mapped in
	AnonKiB    int // anonymous memory: the process's own (see Memory)
	Goroutines int // 0 when unknown
	FDs        int // open file descriptors
}

func (u Usage) String() string {
	return fmt.Sprintf("anon %.1f MiB, RSS %.1f MiB, %d goroutines, %d fds", float64(u.AnonKiB)/1024, float64(u.RSSKiB)/1024, u.Goroutines, u.FDs)
}

// Usage reads the process's memory (ReadMemory) and descriptors from /proc (Linux),
// and its goroutines from the goroutine profile that the listener of
// transport "metrics" serves (pex --metrics), when it has one.
func (p *Proc) Usage() Usage {
	var u Usage
	pid := p.Pid()
	if m, err := ReadMemory(pid); err == nil {
		u.RSSKiB, u.AnonKiB = m.RSS, m.Anon
	}
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		u.FDs = len(ents)
	}
	addr := p.Addr("metrics")
	if addr == "" {
		return u
	}
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err == nil {
		line, _ := bufio.NewReader(resp.Body).ReadString('\n')
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "goroutine profile: total "); ok {
			u.Goroutines, _ = strconv.Atoi(v)
		}
	}
	return u
}
