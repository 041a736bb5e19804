// Package peerstore remembers the peers that worked, across restarts: a
// bounded set per scope (a PXP network, a BitTorrent infohash) of
// addresses with when they were last seen, how often they worked and
// failed, and how they were learned. A node reads it at start to
// bootstrap from peers it knew, and writes it as it runs.
//
// The store is one JSON file, written whole and atomically: to a
// temporary file in the same directory, fsynced, renamed over the old one,
// and the directory fsynced. A process killed at any moment leaves either
// the previous file or the new one, never a mix. A file, not an embedded
// database such as bbolt: the state is small (bounded by Config.MaxPeers
// and Config.MaxScopes: a few hundred KiB at most), read once and written
// every half minute, so a transaction log, a page file that never shrinks
// and a memory map buy nothing over a rename, and the file stays readable
// with any JSON tool.
//
// A store holds a lock on its file (flock on Unix), so that two processes
// given the same directory do not overwrite each other's state: the second
// Open fails with ErrLocked.
//
// The file:
//
//	{"version": 1, "saved": "2026-11-26T12:00:00Z",
//	 "scopes": {"bt:<infohash hex>": [
//	   {"addr": "192.0.2.7:6881", "source": "tracker", "first_seen": "...",
//	    "last_seen": "...", "successes": 3, "failures": 1}, ...]}}
//
// Unknown keys are ignored; a file of another version is an error.
package peerstore
