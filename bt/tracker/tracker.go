// Package tracker announces to BitTorrent trackers to bootstrap a swarm:
// HTTP trackers (BEP 3, compact peer lists of BEP 23 and BEP 7) and UDP
// trackers (BEP 15). Peer exchange cannot bring a peer into a swarm by
// itself; a tracker can.
//
// # UDP (BEP 15)
//
//	connect request   8 bytes protocol id 0x41727101980, 4 action 0, 4 transaction id
//	connect response  4 action 0, 4 transaction id, 8 connection id
//	announce request  8 connection id, 4 action 1, 4 transaction id, 20 infohash,
//	                  20 peer id, 8 downloaded, 8 left, 8 uploaded, 4 event,
//	                  4 IP (0), 4 key, 4 num_want (-1), 2 port
//	announce response 4 action 1, 4 transaction id, 4 interval, 4 leechers,
//	                  4 seeders, then 6 bytes a peer (IPv4) or 18 (IPv6 tracker)
//	error             4 action 3, 4 transaction id, message
//
// All integers are big endian.
package tracker

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"time"

	"github.com/seed0021ed4d/pex/bencode"
	"github.com/seed0021ed4d/pex/bt/compact"
)

// Announce is what we tell the tracker.
type Announce struct {
	InfoHash [20]byte
	PeerID   [20]byte
	Port     int
	Left     int64
	Event    string // "", "started", "stopped", "completed"
	NumWant  int    // 0 means the tracker's default
}

// Response is what the tracker said.
type Response struct {
	Interval time.Duration
	Peers    []netip.AddrPort
}

// MaxResponse bounds a tracker's response body.
const MaxResponse = 1 << 20

// Client announces over HTTP or UDP. The zero value is usable.
type Client struct {
	// HTTP is used for http(s) trackers; nil means a client with a 15 s timeout.
	HTTP *http.Client
	// Dial is used for UDP trackers; nil means net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// UDPTimeout bounds one UDP round trip (BEP 15 retries with 15·2^n s;
	// we try three times with this timeout). Default 5 s.
	UDPTimeout time.Duration
}

// ErrTracker wraps a failure reason the tracker sent.
var ErrTracker = errors.New("tracker: failure")

// Announce announces a to the tracker at rawURL.
func (c *Client) Announce(ctx context.Context, rawURL string, a Announce) (Response, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return Response{}, fmt.Errorf("tracker: %w", err)
	}
	switch u.Scheme {
	case "http", "https":
		return c.announceHTTP(ctx, u, a)
	case "udp":
		return c.announceUDP(ctx, u, a)
	}
	return Response{}, fmt.Errorf("tracker: unsupported scheme %q", u.Scheme)
}

func (c *Client) announceHTTP(ctx context.Context, u *url.URL, a Announce) (Response, error) {
	// info_hash and peer_id are raw bytes, percent-encoded.
	raw := u.RawQuery
	if raw != "" {
		raw += "&"
	}
	raw += "info_hash=" + url.QueryEscape(string(a.InfoHash[:])) + "&peer_id=" + url.QueryEscape(string(a.PeerID[:]))
	q2 := url.Values{}
	q2.Set("port", strconv.Itoa(a.Port))
	q2.Set("uploaded", "0")
	q2.Set("downloaded", "0")
	q2.Set("left", strconv.FormatInt(a.Left, 10))
	q2.Set("compact", "1")
	if a.Event != "" {
		q2.Set("event", a.Event)
	}
	if a.NumWant > 0 {
		q2.Set("numwant", strconv.Itoa(a.NumWant))
	}
	v := *u
	v.RawQuery = raw + "&" + q2.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.String(), nil)
	if err != nil {
		return Response{}, err
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	res, err := hc.Do(req)
	if err != nil {
		return Response{}, fmt.Errorf("tracker: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, MaxResponse+1))
	if err != nil {
		return Response{}, fmt.Errorf("tracker: %w", err)
	}
	if len(body) > MaxResponse {
		return Response{}, errors.New("tracker: response too large")
	}
	if res.StatusCode != http.StatusOK {
		return Response{}, fmt.Errorf("tracker: HTTP %s", res.Status)
	}
	return ParseHTTPResponse(body)
}

// ParseHTTPResponse decodes an HTTP tracker's bencoded response: compact
// peers (BEP 23), compact IPv6 peers ("peers6", BEP 7) or a list of dicts.
func ParseHTTPResponse(body []byte) (Response, error) {
	v, err := bencode.Decode(body)
	if err != nil {
		return Response{}, fmt.Errorf("tracker: %w", err)
	}
	d, ok := v.(map[string]any)
	if !ok {
		return Response{}, errors.New("tracker: response is not a dict")
	}
	if f, ok := d["failure reason"].(string); ok {
		return Response{}, fmt.Errorf("%w: %s", ErrTracker, f)
	}
	var r Response
	if n, ok := d["interval"].(int64); ok && n > 0 && n < 86400 {
		r.Interval = time.Duration(n) * time.Second
	}
	switch p := d["peers"].(type) {
	case string:
		r.Peers = append(r.Peers, compact.AppendList(nil, []byte(p), compact.Size4)...)
	case []any:
		for _, e := range p {
			pd, ok := e.(map[string]any)
			if !ok {
				continue
			}
			ip, _ := pd["ip"].(string)
			port, _ := pd["port"].(int64)
			if a, err := netip.ParseAddr(ip); err == nil && port > 0 && port < 65536 {
				r.Peers = append(r.Peers, netip.AddrPortFrom(a, uint16(port)))
			}
		}
	}
	if p6, ok := d["peers6"].(string); ok {
		r.Peers = append(r.Peers, compact.AppendList(nil, []byte(p6), compact.Size6)...)
	}
	return r, nil
}

const udpProtocolID = 0x41727101980

func (c *Client) announceUDP(ctx context.Context, u *url.URL, a Announce) (Response, error) {
	dial := c.Dial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	conn, err := dial(ctx, "udp", u.Host)
	if err != nil {
		return Response{}, fmt.Errorf("tracker: %w", err)
	}
	defer conn.Close()
	timeout := c.UDPTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ipv6 := false
	if ra, ok := conn.RemoteAddr().(*net.UDPAddr); ok && ra.IP.To4() == nil {
		ipv6 = true
	}
	roundTrip := func(req []byte, action uint32, min int) ([]byte, error) {
		buf := make([]byte, 65536)
		tid := binary.BigEndian.Uint32(req[12:16])
		for try := 0; try < 3; try++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			deadline := time.Now().Add(timeout)
			if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
				deadline = d
			}
			conn.SetDeadline(deadline)
			if _, err := conn.Write(req); err != nil {
				return nil, err
			}
			for {
				n, err := conn.Read(buf)
				if err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						break
					}
					return nil, err
				}
				p := buf[:n]
				if n < 8 || binary.BigEndian.Uint32(p[4:8]) != tid {
					continue // not ours
				}
				switch act := binary.BigEndian.Uint32(p[:4]); {
				case act == 3:
					return nil, fmt.Errorf("%w: %s", ErrTracker, p[8:])
				case act != action || n < min:
					return nil, errors.New("tracker: malformed UDP response")
				}
				return p, nil
			}
		}
		return nil, errors.New("tracker: no UDP response")
	}
	req := make([]byte, 16)
	binary.BigEndian.PutUint64(req, udpProtocolID)
	binary.BigEndian.PutUint32(req[8:], 0)
	rand.Read(req[12:16])
	p, err := roundTrip(req, 0, 16)
	if err != nil {
		return Response{}, err
	}
	connID := binary.BigEndian.Uint64(p[8:16])
	ann := make([]byte, 98)
	binary.BigEndian.PutUint64(ann, connID)
	binary.BigEndian.PutUint32(ann[8:], 1)
	rand.Read(ann[12:16])
	copy(ann[16:36], a.InfoHash[:])
	copy(ann[36:56], a.PeerID[:])
	binary.BigEndian.PutUint64(ann[64:], uint64(a.Left))
	ev := map[string]uint32{"completed": 1, "started": 2, "stopped": 3}[a.Event]
	binary.BigEndian.PutUint32(ann[80:], ev)
	rand.Read(ann[88:92])
	want := int32(-1)
	if a.NumWant > 0 {
		want = int32(a.NumWant)
	}
	binary.BigEndian.PutUint32(ann[92:], uint32(want))
	binary.BigEndian.PutUint16(ann[96:], uint16(a.Port))
	p, err = roundTrip(ann, 1, 20)
	if err != nil {
		return Response{}, err
	}
	r := Response{Interval: time.Duration(binary.BigEndian.Uint32(p[8:12])) * time.Second}
	size := compact.Size4
	if ipv6 {
		size = compact.Size6
	}
	r.Peers = compact.AppendList(nil, p[20:], size)
	return r, nil
}
