//go:build race

package sim

// raceOn: the test binary was built with the race detector.
const raceOn = true
