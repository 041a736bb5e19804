package main

import (
	"errors"
	"strconv"
)

// --own: how many of a node's --want links it opens itself. A node whose
// every slot is taken by peers that dialed it is "at want" by count
// alone, and would never choose a link of its own: peers that flood it
// with links (an eclipse, SECURITY.md) would then be all it has.

// ownAuto is --own's default: half of --want, rounded up.
const ownAuto = -1

// ownFlag is --own's value: a count, or ownAuto until given.
type ownFlag struct{ n *int }

func (f ownFlag) String() string {
	if f.n == nil || *f.n == ownAuto {
		return ""
	}
	return strconv.Itoa(*f.n)
}

func (f ownFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return err
	}
	if n < 0 {
		return errors.New("want 0 or more")
	}
	*f.n = n
	return nil
}

// ownTarget is the links of want a node opens itself, given --own.
func ownTarget(want, own int) int {
	if own == ownAuto {
		return (want + 1) / 2
	}
	return own
}

// wantsMore reports whether a node with peers links, opened of them
// itself, calls GetNewPeer for another.
func (n *node) wantsMore(peers, opened int) bool {
	return peers < n.opts.want || opened < ownTarget(n.opts.want, n.opts.own)
}
