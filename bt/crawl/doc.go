// Package crawl maps a BitTorrent swarm through peer exchange: it learns
// peers from trackers, the DHT and the peers themselves, connects to each
// peer once, takes its handshakes (client, listen port, the address it
// sees us at) and its first PEX message (ut_pex, BEP 11, or Vuze's
// AZ_PEER_EXCHANGE), disconnects, and moves on to the peers that message
// named.
//
// A crawler is a guest in every swarm it maps, and behaves as one: it
// connects to a peer once (or once every Config.Revisit, at least a
// minute apart), never sends a
// PEX message of its own (it asks for nothing BEP 11 does not already
// send), says it is interested so that seeds keep it, sends keep-alives
// while it waits, and closes the connection as soon as the first PEX
// message came or Config.PEXWait passed. It does not listen and offers no
// pieces.
//
// What it saw is a Report: every peer with how and from whom it was first
// learned, whether it answered, its client and when; the who-named-whom
// graph (Report.WriteDOT for GraphViz, the Report itself as JSON); and the
// coverage over time, peers known against peers reached.
package crawl
