// Package memnet is an in-process network for tests and the simulator:
// buffered, ordered, full-duplex connections with deadlines, and listeners
// reached by name. It does no real I/O, so tests over it can run inside a
// testing/synctest bubble with virtual time.
package memnet
