// Package metainfo reads what names a BitTorrent swarm: an infohash in hex
// or base32, a magnet URI (BEP 9: xt, tr, x.pe, dn), or a .torrent file
// (BEP 3, with BEP 12's announce-list and BEP 27's private flag). It reads
// only what peer exchange needs; the file list and pieces are skipped.
package metainfo

import (
	"crypto/sha1"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/seed0021ed4d/pex/bencode"
)

// Swarm is what names a swarm and how to find its first peers.
type Swarm struct {
	InfoHash [20]byte
	Name     string
	// Private: the torrent is private (BEP 27): peer exchange and the DHT
	// must not be used.
	Private bool
	// Trackers are announce URLs, in the order given, without duplicates.
	Trackers []string
	// Peers are HOST:PORT peers a magnet names (x.pe).
	Peers []string
}

// MaxTorrentSize bounds a .torrent file ParseTorrent takes.
const MaxTorrentSize = 16 << 20

// Errors.
var (
	ErrNoInfoHash = errors.New("metainfo: no BitTorrent infohash (xt=urn:btih:...)")
	ErrNoInfo     = errors.New("metainfo: torrent has no info dict")
)

// ParseInfoHash reads 40 hex digits or 32 base32 characters.
func ParseInfoHash(s string) (ih [20]byte, err error) {
	switch len(s) {
	case 40:
		b, err := hex.DecodeString(s)
		if err != nil {
			return ih, fmt.Errorf("metainfo: infohash: %w", err)
		}
		copy(ih[:], b)
	case 32:
		b, err := base32.StdEncoding.DecodeString(strings.ToUpper(s))
		if err != nil {
			return ih, fmt.Errorf("metainfo: infohash: %w", err)
		}
		copy(ih[:], b)
	default:
		return ih, fmt.Errorf("metainfo: an infohash is 40 hex or 32 base32 characters, not %d", len(s))
	}
	return ih, nil
}

// ParseMagnet reads a magnet URI: its BitTorrent infohash (the first
// xt=urn:btih:), display name (dn), trackers (tr) and peers (x.pe).
func ParseMagnet(uri string) (Swarm, error) {
	var sw Swarm
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "magnet" {
		return sw, fmt.Errorf("metainfo: not a magnet URI: %q", truncate(uri, 80))
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return sw, fmt.Errorf("metainfo: magnet URI: %w", err)
	}
	found := false
	for _, xt := range q["xt"] {
		if h, ok := strings.CutPrefix(xt, "urn:btih:"); ok {
			if sw.InfoHash, err = ParseInfoHash(h); err != nil {
				return sw, err
			}
			found = true
			break
		}
	}
	if !found {
		return sw, ErrNoInfoHash
	}
	sw.Name = q.Get("dn")
	for _, tr := range q["tr"] {
		sw.addTracker(tr)
	}
	sw.Peers = append(sw.Peers, q["x.pe"]...)
	return sw, nil
}

// ParseTorrent reads a .torrent file: the infohash is the SHA-1 of the raw
// bytes of its info dict, as they are in the file.
func ParseTorrent(b []byte) (Swarm, error) {
	var sw Swarm
	if len(b) > MaxTorrentSize {
		return sw, fmt.Errorf("metainfo: torrent of %d bytes, limit %d", len(b), MaxTorrentSize)
	}
	if len(b) == 0 || b[0] != 'd' {
		return sw, errors.New("metainfo: torrent is not a bencoded dict")
	}
	rest := b[1:]
	haveInfo := false
	for len(rest) > 0 && rest[0] != 'e' {
		key, r, err := bencode.ReadString(rest)
		if err != nil {
			return sw, fmt.Errorf("metainfo: torrent: %w", err)
		}
		after, err := bencode.Skip(r)
		if err != nil {
			return sw, fmt.Errorf("metainfo: torrent: %w", err)
		}
		raw := r[:len(r)-len(after)]
		switch string(key) {
		case "info":
			if raw[0] != 'd' {
				return sw, errors.New("metainfo: torrent's info is not a dict")
			}
			haveInfo = true
			sw.InfoHash = sha1.Sum(raw)
			if v, err := bencode.Decode(raw); err == nil {
				if d, ok := v.(map[string]any); ok {
					sw.Private = d["private"] == int64(1)
					sw.Name, _ = d["name"].(string)
				}
			}
		case "announce":
			if s, _, err := bencode.ReadString(raw); err == nil {
				sw.addTracker(string(s))
			}
		case "announce-list": // BEP 12: a list of tiers, each a list of URLs
			if v, err := bencode.Decode(raw); err == nil {
				tiers, _ := v.([]any)
				for _, tier := range tiers {
					urls, _ := tier.([]any)
					for _, u := range urls {
						if s, ok := u.(string); ok {
							sw.addTracker(s)
						}
					}
				}
			}
		}
		rest = after
	}
	if !haveInfo {
		return sw, ErrNoInfo
	}
	return sw, nil
}

func (sw *Swarm) addTracker(u string) {
	if u != "" && !slices.Contains(sw.Trackers, u) {
		sw.Trackers = append(sw.Trackers, u)
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
