// Package attack is pex's adversarial suite: attack programs run against a
// real pex process (built from this checkout) and check the bounds that
// SECURITY.md promises: memory per attacker, no lock-out of honest peers,
// no stalled links, no amplification, floods cut, and the process's
// goroutines and file descriptors back to their baseline afterwards. It
// has no non-test code.
//
// The tests run in CI at reduced sizes; the sizes of SECURITY.md run with
//
//	PEX_ATTACK_FULL=1 go test -count=1 -v -timeout 60m ./attack
//
// PEX_ATTACK_BIN=PATH runs them against another build of pex instead (an
// older one, for before-and-after numbers; goroutines are then not
// counted when it has no --metrics).
package attack
