// Package proc is the lab suites' process harness: it builds the module's
// commands, starts pex or a real peer (the JS reference, a BitTorrent
// client) on loopback or in a lab host, reads the JSON events it prints,
// waits for one, stops it, and shows its log when a test fails.
//
// The suites that drive real processes (lab/attack, lab/interop, lab/nat)
// and pexlab's tests share it, so that a process is started, read and
// stopped one way everywhere.
package proc
