// Package metrics exports pex's engines to Prometheus: a collector for a
// PXP Exchange and one for BitTorrent swarms, read from the engines'
// Stats snapshots at scrape time, so that pxp and bt/swarm never import
// Prometheus (they count; this package names and exports).
//
// Handler serves them in Prometheus' text exposition format (0.0.4),
// which Write produces, beside the Go runtime's and the process's own
// go_* and process_* metrics (github.com/VictoriaMetrics/metrics) and
// Go's profiles. The package does not use Prometheus' client_golang:
// that library and the protobuf registry under it do their work in
// package initialisers, which every pex process would run, subcommand or
// not, for about 2 MiB of memory each. Applications that export through
// a client_golang registry register the same collectors with package
// metrics/prom.
//
// Every metric is named pex_pxp_* or pex_bt_*, counters end in _total,
// durations are in seconds and sizes in bytes. The metrics and their
// labels:
//
//	pex_pxp_links{transport}                        gauge   links past their handshake
//	pex_pxp_introductions_total{outcome}            counter GetNewPeer results: the new link's transport, or "failed"
//	pex_pxp_introduction_failures_total{reason}     counter failed GetNewPeer calls by pxp.FailureReason
//	pex_pxp_introduction_duration_seconds           histogram GetNewPeer's time
//	pex_pxp_relays                                  gauge   relayed pairs carried now
//	pex_pxp_relays_started_total                    counter
//	pex_pxp_relayed_bytes_total                     counter bytes spliced for relayed pairs
//	pex_pxp_getpeers_served_total                   counter
//	pex_pxp_protocol_errors_total{kind}             counter links closed for what the peer sent
//	pex_pxp_refusals_total{limit}                   counter requests refused, by the limit that refused them
//	pex_pxp_messages_total{direction}               counter control messages ("in", "out")
//	pex_pxp_transport_bytes_total{direction}        counter bytes on the links' transports
//	pex_pxp_events_dropped_total                    counter
//
//	pex_bt_connections{infohash,network,client}     gauge   connected peers by PEX network ("ut_pex", "azmp", "none") and client
//	pex_bt_dialing{infohash}                        gauge
//	pex_bt_handshaking{infohash}                    gauge
//	pex_bt_pex_messages_total{infohash,direction,network} counter
//	pex_bt_peers_learned_total{infohash,source}     counter
//	pex_bt_dials_total{infohash,outcome}            counter
//	pex_bt_flood_disconnects_total{infohash}        counter
//	pex_bt_referrals_total{infohash}                counter
//	pex_bt_events_dropped_total{infohash}           counter
//	pex_bt_openings_total{infohash,outcome}         counter incoming connections at the opening gate: "admitted" or "refused" (over the IP's rate, before any work)
//	pex_bt_sender_wakeups_total{infohash}           counter firings of the links' PEX and keep-alive senders
//
// The client label is the client's name without its version
// ("libtorrent", "Transmission"), and at most MaxClientLabels names are
// kept per swarm, the rest counted as "other": a peer picks its own
// client string, and a label per string would let peers grow the
// scrape without bound.
package metrics
