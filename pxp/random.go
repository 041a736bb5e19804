package pxp

import (
	"crypto/rand"
	"encoding/hex"
	mrand "math/rand/v2"
)

// randomHex returns n random bytes in hex.
func randomHex(n int) string { return randomHexRun(n, 1) }

// randomHexRun returns k ids of n random bytes each, in hex, end to end
// (id i is [2n*i, 2n*(i+1))): one read of the system's randomness and one
// string for a getpeers answer's ids, where randomHex would take one of
// each per candidate.
func randomHexRun(n, k int) string {
	var room [64]byte
	b := room[:0]
	if n*k > len(room) {
		b = make([]byte, 0, n*k)
	}
	b = b[:n*k]
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newRand returns a fast generator seeded from the system's secret
// randomness: peers cannot predict the samples it draws, and drawing costs
// no system call.
func newRand() *mrand.Rand {
	var seed [32]byte
	_, _ = rand.Read(seed[:])
	return mrand.New(mrand.NewChaCha8(seed))
}
