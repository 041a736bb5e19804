// Package interop holds pex's interoperability tests against real
// implementations: the pinned JS reference (peer-exchange 2.2.0, installed
// under testdata/js by the README's test command). It has no non-test code.
//
// Outside CI a missing Node.js or JS package skips these tests; with CI=true
// it fails them.
package interop
