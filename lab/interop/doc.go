// Package interop holds pex's interoperability tests against real
// implementations, each in a file of its own: the pinned JS reference
// (peer-exchange 2.2.0 under testdata/js, js_test.go), libtorrent
// (libtorrent_test.go), aria2, Transmission, rtorrent and BiglyBT. The
// shared harness is harness_test.go (the private network namespace the
// tests run in, waiting, program lookup), jsnode_test.go, gonode_test.go
// and pxpwire_test.go for PXP, and btswarm_test.go for BitTorrent (torrents
// and pex swarms). It has no non-test code.
//
// Outside CI a missing Node.js, JS package or client skips these tests;
// with CI=true it fails them.
package interop
