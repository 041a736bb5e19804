package pxp

import (
	"crypto/rand"
	"encoding/hex"
	mrand "math/rand/v2"
)

func randomHex(n int) string {
	b := make([]byte, n)
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
