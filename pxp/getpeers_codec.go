package pxp

// The getpeers answer on the wire, [null, [{"id","network","connectInfo"}
// ...]], read and written without reflection: a relay writes one for each
// request and a node reads one for each relay it asks, so encoding/json's
// cost was a large share of an introduction's.

import (
	"encoding/json"
	"slices"

	"github.com/seed0021ed4d/pex/internal/jsonscan"
)

// decodeCandidates reads the candidate list of a getpeers answer with
// JSON.parse's rules, as the reference reads it: keys match exactly and a
// key given twice counts with its last value. A null list is no
// candidates; a null entry is a candidate without id (which the caller
// refuses). ok is false for anything else that is not a list of objects
// whose id and network are strings. The candidates alias raw; a network
// equal to network is that string (most are, and it is not allocated
// again for each); the ids written plainly (no escapes, as every peer
// writes them) share one string, allocated once for all of them.
func decodeCandidates(raw []byte, network string) (cands []Candidate, ok bool) {
	var room [16]json.RawMessage // MaxCandidates, by default: none allocated
	elems, err := jsonscan.DecodeArray(raw, room[:0])
	if err != nil {
		return nil, false
	}
	cands = make([]Candidate, len(elems))
	// The plain ids, end to end, and where each candidate's lies among
	// them (empty: not plain, or none).
	var ids []byte
	var spans [][2]int
	for i, e := range elems {
		if string(e) == "null" {
			continue
		}
		if e[0] != '{' {
			return nil, false
		}
		c := &cands[i]
		good := true
		jsonscan.DecodeObject(e, func(key, v []byte) {
			var err error
			switch string(key) {
			case "id":
				if jsonscan.Plain(v) && len(v) > 2 {
					if spans == nil {
						spans = make([][2]int, len(elems))
						ids = make([]byte, 0, 16*len(elems)) // a Go relay's ids are 8 bytes; longer ones grow it
					}
					spans[i] = [2]int{len(ids), len(ids) + len(v) - 2}
					ids = append(ids, v[1:len(v)-1]...)
					c.ID = ""
				} else {
					if spans != nil {
						spans[i] = [2]int{} // the last id given counts
					}
					c.ID, err = jsonscan.DecodeString(v)
				}
			case "network":
				if jsonscan.Plain(v) && string(v[1:len(v)-1]) == network {
					c.Network = network
				} else {
					c.Network, err = jsonscan.DecodeString(v)
				}
			case "connectInfo":
				c.ConnectInfo = v
			}
			good = good && err == nil
		})
		if !good {
			return nil, false
		}
	}
	if spans != nil {
		all := string(ids)
		for i, sp := range spans {
			if sp[1] > sp[0] {
				cands[i].ID = all[sp[0]:sp[1]]
			}
		}
	}
	return cands, true
}

// appendCandidates appends the answer [null, cands] as json.Marshal would
// write it; ok is false when a connectInfo is not already in the compact,
// escaped form Marshal gives (a peer's hello may space it out), and then
// nothing is appended: the caller marshals instead.
func appendCandidates(dst []byte, cands []Candidate) (out []byte, ok bool) {
	for _, c := range cands {
		if !compactJSON(c.ConnectInfo) {
			return dst, false
		}
	}
	return appendCompactCandidates(dst, cands), true
}

// appendCompactCandidates is appendCandidates for candidates whose
// connectInfo is known to be compact (remoteHello.compact).
func appendCompactCandidates(dst []byte, cands []Candidate) []byte {
	if cands == nil {
		return append(dst, "[null,null]"...)
	}
	size := 10
	for _, c := range cands {
		size += 40 + len(c.ID) + len(c.Network) + len(c.ConnectInfo)
	}
	dst = slices.Grow(dst, size)
	dst = append(dst, `[null,[`...)
	for i, c := range cands {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"id":`...)
		dst = jsonscan.AppendString(dst, c.ID)
		dst = append(dst, `,"network":`...)
		dst = jsonscan.AppendString(dst, c.Network)
		dst = append(dst, `,"connectInfo":`...)
		if len(c.ConnectInfo) == 0 {
			dst = append(dst, "null"...)
		} else {
			dst = append(dst, c.ConnectInfo...)
		}
		dst = append(dst, '}')
	}
	return append(dst, "]]"...)
}

// compactJSON reports whether raw, a well-formed JSON value or nothing,
// is written as json.Marshal writes a json.RawMessage: no whitespace, and
// none of the characters it escapes (<, >, &, U+2028, U+2029).
func compactJSON(raw json.RawMessage) bool {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\n', '\r', '<', '>', '&', 0xe2: // 0xe2 starts U+2028 and U+2029
			return false
		}
	}
	return true
}
