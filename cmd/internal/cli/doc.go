// Package cli is what the two commands, pex (the user's) and pexlab (the
// lab's), share: a command's help generated from its flag set, checks
// that refuse a bad flag before any work, and the event printer (logfmt,
// or JSON lines with --json) with its flood bounds.
//
// It is internal to cmd/: the engines know nothing of it.
package cli
