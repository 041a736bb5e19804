// Package proc is the lab suites' process harness: it builds the module's
// commands, starts pex or a real peer (the JS reference, a BitTorrent
// client) on loopback or in a lab host, reads the JSON events it prints,
// waits for one, stops it, and shows its log when a test fails.
//
// The suites that drive real processes (lab/attack, lab/interop, lab/nat)
// and pexlab's tests share it, so that a process is started, read and
// stopped one way everywhere.
//
// The caller builds the *exec.Cmd (exec.Command, or natlab.Host.Command in
// a lab host) and hands it to Start, or to StartT in a test, which stops
// the process when the test ends and logs its log and last events when
// the test failed. A Proc keeps the last events (Events, Count, Last,
// Addr), waits for one without polling (Wait, WaitCount, Until), keeps
// the tail of its stderr as its log (Log), takes commands on stdin (Send)
// and ends with Stop: SIGINT, then a kill after a grace period.
package proc
