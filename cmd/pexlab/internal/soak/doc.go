// Package soak runs a pex process for a long time under a churning
// population and checks that nothing it holds grows: the lab's soaks,
// `pexlab soak pxp` (a public relay, pex node with TCP, WebSocket and the
// browser page) and `pexlab soak bt` (pex bt swarm holding a swarm).
//
// The population runs in the lab's process, real engines over loopback,
// members drawn from a pool of addresses (pool.go): for the relay, Go PXP nodes
// over TCP and WebSocket clients as browsers are, joining, asking for
// introductions, writing lines on every link and leaving (pxppop.go);
// for the swarm, BitTorrent engines that learn each other from its PEX
// and peers on the wire (btpop.go). A few misbehaving clients at a time
// send garbage, half handshakes, nothing, or floods, so that the node's
// cleanup paths run too (pxpbad.go, btbad.go).
//
// Every Config.Interval the process is sampled (sample.go): its
// anonymous memory (RssAnon, /proc/PID/status), goroutines
// (go_goroutines of its --metrics), open descriptors (/proc/PID/fd),
// links (its pex_pxp_links or pex_bt_connections) and, every
// Config.TimersEvery samples, live timers (heapprofile.go: the in-use
// count at time.newTimer in its heap profile, the process run with
// GODEBUG=memprofilerate=1 so that every allocation is recorded). A
// sample that fails is left out, a count of timers that fails leaves its
// sample without one; both are counted in the Result. Nothing is done to the process to move a
// figure: no page is released, and no collection forced while the
// population runs (once it has left, the drained sample counts timers
// after one, its memory read before).
//
// Over the second half of the run each metric's least-squares slope is
// held to a bound (trend.go): a share of the metric's level an hour,
// never under a floor, and a metric grows when its slope clears the
// bound by Sigmas standard errors. The bounds sit far below what a leak
// of one goroutine, timer, descriptor or link per departed member adds
// at the soaks' churn (TestDetectorCatchesALeakPerDeparture shows the
// detector catching one at CI's size and passing flat noisy series).
package soak
