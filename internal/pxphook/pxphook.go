// Package pxphook gives the lab hooks into package pxp that pxp's API does
// not offer its users: the hostile policies of the simulator's attackers
// (cmd/pexlab/internal/sim). Being internal to the module, it is no part
// of pxp's API: a program outside the module cannot import it.
//
// The hooks follow the pattern of grpc's internal package: this package
// holds variables of function type and package pxp assigns them in its
// init, so that the lab reaches pxp's unexported fields with no import
// cycle (pxp imports this package, never the other way). A hook is nil in
// a program that does not link pxp.
package pxphook

import "encoding/json"

// SetCandidates makes the Exchange built from cfg, which must be a
// *pxp.Config, answer every getpeers with the connectInfos answer returns
// for the asking peer (its id, "" for a peer that names none), at most
// Config.MaxCandidates of them, each under a fresh candidate id, in place
// of a sample of its own peers: a node that names only the nodes it
// chooses, which need not be its peers. A relay through one of those
// candidate ids is refused as an unknown candidate (the requester dials
// the candidate's advertised address itself), so such a node relays
// nobody. answer is called on the link's goroutine, concurrently for
// different links; a nil answer restores the ordinary getpeers.
var SetCandidates func(cfg any, answer func(asker string) []json.RawMessage)
