package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"

	"github.com/seed0021ed4d/pex/peerstore"
)

// stateSaveInterval is how often --state is written while a command runs
// (and once more when it stops).
const stateSaveInterval = 30 * time.Second

// stateKeeper is --state for one command: the remembered peers of one
// scope, saved on a timer. A nil keeper (no --state) remembers nothing.
type stateKeeper struct {
	st    *peerstore.Store
	path  string
	scope string
	pr    *cli.Printer
	stop  chan struct{}
	done  chan struct{}
}

// openState opens file in dir (made if missing) for scope, reports how
// many peers it remembers, and saves it every stateSaveInterval. A file
// that is not a store (empty, cut short, garbage) holds nothing worth
// stopping for: it is moved aside as FILE.corrupt-TIME, a state-corrupt
// event says so, and the command starts with no peers remembered.
func openState(dir, file, scope string, pr *cli.Printer) (*stateKeeper, error) {
	if dir == "" {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("--state: %w", err)
	}
	path := filepath.Join(dir, file)
	st, err := peerstore.Open(path, nil)
	if errors.Is(err, peerstore.ErrCorrupt) {
		aside, rerr := moveAside(path)
		if rerr != nil {
			return nil, fmt.Errorf("--state: %w (and it could not be moved aside: %v)", err, rerr)
		}
		reason := strings.TrimPrefix(strings.TrimPrefix(err.Error(), peerstore.ErrCorrupt.Error()+": "), path+": ")
		pr.Event("state-corrupt", "path", path, "moved_to", aside, "reason", reason)
		st, err = peerstore.Open(path, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("--state: %w", err)
	}
	k := &stateKeeper{st: st, path: path, scope: scope, pr: pr, stop: make(chan struct{}), done: make(chan struct{})}
	pr.Event("state", "path", path, "peers", len(st.Peers(scope)))
	go k.saveLoop()
	return k, nil
}

// moveAside renames path to path.corrupt-TIME (UTC, to the second; -2,
// -3... when that is taken) and returns the new name.
func moveAside(path string) (string, error) {
	base := path + ".corrupt-" + time.Now().UTC().Format("20060102T150405Z")
	aside := base
	for i := 2; ; i++ {
		if _, err := os.Lstat(aside); errors.Is(err, os.ErrNotExist) {
			break
		}
		aside = fmt.Sprintf("%s-%d", base, i)
	}
	return aside, os.Rename(path, aside)
}

func (k *stateKeeper) saveLoop() {
	defer close(k.done)
	t := time.NewTicker(stateSaveInterval)
	defer t.Stop()
	for {
		select {
		case <-k.stop:
			return
		case <-t.C:
			if err := k.st.Save(); err != nil {
				k.pr.Limited("state", "error", "error", err.Error(), "path", k.path)
			}
		}
	}
}

// peers returns the remembered peers, best first.
func (k *stateKeeper) peers() []peerstore.Peer {
	if k == nil {
		return nil
	}
	return k.st.Peers(k.scope)
}

func (k *stateKeeper) success(addr, source string) {
	if k != nil {
		k.st.Success(k.scope, addr, source)
	}
}

func (k *stateKeeper) failure(addr string) {
	if k != nil {
		k.st.Failure(k.scope, addr)
	}
}

// close saves the state a last time and releases it.
func (k *stateKeeper) close() {
	if k == nil {
		return
	}
	close(k.stop)
	<-k.done
	n := len(k.st.Peers(k.scope))
	if err := k.st.Close(); err != nil {
		k.pr.Event("error", "error", err.Error(), "path", k.path)
		return
	}
	k.pr.Event("state-saved", "path", k.path, "peers", n)
}
