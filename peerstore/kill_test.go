package peerstore

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const writerEnv = "PEERSTORE_TEST_WRITER"

// TestMain runs the writer when the test binary is started as one.
func TestMain(m *testing.M) {
	if path := os.Getenv(writerEnv); path != "" {
		writer(path)
		return
	}
	os.Exit(m.Run())
}

const killPeers = 2000

// writer saves generation after generation of killPeers peers (each
// generation one more success for every peer), saying "gen N" before
// writing generation N and "mid N" when part of it is in the temporary
// file, until it is killed. It writes in 4 KiB pieces, each synced, so
// that a kill on "mid" lands in the middle of a write.
func writer(path string) {
	gen := 0
	writeFile = func(f *os.File, b []byte) error {
		for i := 0; i < len(b); i += 4096 {
			if _, err := f.Write(b[i:min(i+4096, len(b))]); err != nil {
				return err
			}
			f.Sync()
			if i == 4096 {
				fmt.Println("mid", gen)
			}
		}
		return nil
	}
	s, err := Open(path, &Config{MaxPeers: killPeers})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for gen = 1; ; gen++ {
		for i := range killPeers {
			s.Success("bt:kill", fmt.Sprintf("10.%d.%d.1:6881", i/256, i%256), "tracker")
		}
		fmt.Println("gen", gen)
		if err := s.Save(); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
	}
}

// A process killed (SIGKILL) while it writes leaves the previous state or
// the new one, whole: killed 20 times at different points of its writes,
// the store opens every time with every peer, all of one generation no
// older than the one before the last the writer announced.
func TestKilledMidWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peers.json")
	midWrite, last := 0, 0
	for round := range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), writerEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Killed after its (round%5+2)th announcement, half the rounds
		// of "mid" (in a write), half of "gen" (before one).
		want := "gen"
		if round%2 == 0 {
			want = "mid"
		}
		sc := bufio.NewScanner(out)
		seen := 0
		for seen < round%5+2 && sc.Scan() {
			word, num, _ := strings.Cut(sc.Text(), " ")
			n, err := strconv.Atoi(num)
			if err != nil || word != "gen" && word != "mid" {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("writer said %q", sc.Text())
			}
			if word == "gen" {
				last = n
			}
			if word == want {
				seen++
			}
		}
		cmd.Process.Kill()
		cmd.Wait()
		if temps, _ := filepath.Glob(filepath.Join(filepath.Dir(path), tempPrefix(path)+"*")); len(temps) > 0 {
			midWrite++
		}
		s, err := Open(path, &Config{MaxPeers: killPeers})
		if err != nil {
			t.Fatalf("round %d: the state does not open after a kill: %v", round, err)
		}
		ps := s.Peers("bt:kill")
		if len(ps) != killPeers {
			t.Fatalf("round %d: %d peers, want %d", round, len(ps), killPeers)
		}
		gen := ps[0].Successes
		for _, p := range ps {
			if p.Successes != gen {
				t.Fatalf("round %d: peers of generations %d and %d in one file", round, gen, p.Successes)
			}
		}
		// The writer said last before writing it: the file holds last or
		// the one before (it restarts from the file, so generations add up).
		if gen < last-1 {
			t.Fatalf("round %d: generation %d on disk, the writer had finished %d", round, gen, last-1)
		}
		s.Close()
	}
	t.Logf("20 kills, %d of them mid-write (a temporary file left behind); the state opened whole every time", midWrite)
	if midWrite == 0 {
		t.Error("no kill landed mid-write: the test did not test what it says")
	}
}
