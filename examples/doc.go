// Package examples holds the programs README.md shows (examples/pxp and
// examples/btswarm); its test builds them, runs them against peers it
// starts on loopback, and checks that README.md shows them as they are.
package examples
