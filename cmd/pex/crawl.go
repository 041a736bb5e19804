package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"

	"github.com/seed0021ed4d/pex/bt/crawl"
	"github.com/seed0021ed4d/pex/bt/dht"
	"github.com/seed0021ed4d/pex/bt/tracker"
)

var btCrawlCmd = &cli.Command{
	Name:     "bt crawl",
	Summary:  "map a BitTorrent swarm through PEX: every peer once, who named whom",
	Lead:     "(--infohash HEX | --magnet URI | --torrent FILE)",
	Required: []string{"infohash", "magnet", "torrent"},
	About: "Discovers the swarm of one infohash from --peer peers, --tracker trackers " +
		"(and a magnet's or torrent's, unless --no-trackers) and a Mainline DHT lookup " +
		"from --dht-bootstrap nodes, then connects to each peer once: it takes the " +
		"peer's handshakes (client, listen port, the address it sees us at) and its first " +
		"PEX message (ut_pex or AZMP's), disconnects, and visits the peers that message " +
		"named (and, with --revisit, visits each again that long after). It never sends PEX itself, and waits at most --pex-wait for a peer's " +
		"first message (libtorrent sends one a minute, Transmission every 90 s). It runs " +
		"for --duration, or until --idle passes with nothing new learned and no visit in " +
		"flight. Output: a progress line every two seconds, each failed visit with its " +
		"reason, and a summary (or, with --json, learned and visited events and a summary " +
		"object last); a crawl that had peers to try but reached none exits 1 and says " +
		"why. --out FILE writes the " +
		"report: every peer with how, from whom and when it was learned, whether it was " +
		"reached and its client, the who-named-whom edges and the coverage curve (JSON), " +
		"and beside it FILE.dot (GraphViz) and FILE.coverage.tsv.",
	Examples: []string{
		"pex bt crawl --infohash 0123456789abcdef0123456789abcdef01234567 --peer 127.0.0.1:6881 --duration 5m --out swarm.json",
		"pex bt crawl --magnet 'magnet:?xt=urn:btih:...' --dht-bootstrap 192.0.2.1:6881 --json",
	},
	Flags: func() *flag.FlagSet { return new(crawlOpts).flagSet() },
}

type crawlOpts struct {
	swarmFlags
	dhtListen               string
	concurrency             int
	pexWait, duration, idle time.Duration
	revisit                 time.Duration
	noAZMP, encrypt         bool
	out                     string
	json, quiet             bool
	logLevel                string
}

func (o *crawlOpts) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("pex bt crawl", flag.ContinueOnError)
	o.swarmFlags.add(fs, "start from the peer at `HOST:PORT` (repeatable)", "ask the tracker at `URL` for peers (http, https or udp; repeatable)")
	fs.StringVar(&o.dhtListen, "dht-listen", "127.0.0.1:0", "UDP `HOST:PORT` for the DHT node")
	fs.IntVar(&o.concurrency, "concurrency", crawl.DefaultConcurrency, "`N` connections open at once")
	fs.DurationVar(&o.pexWait, "pex-wait", crawl.DefaultPEXWait, "wait at most `D` for a peer's first PEX message")
	fs.DurationVar(&o.revisit, "revisit", 0, "visit every peer again `D` after its last visit (at least 1m; 0: once)")
	fs.DurationVar(&o.duration, "duration", 10*time.Minute, "stop after `D`")
	fs.DurationVar(&o.idle, "idle", 0, "stop when `D` passed with nothing learned and no visit in flight (0: run for --duration)")
	fs.BoolVar(&o.noAZMP, "no-azmp", false, "do not offer Vuze's messaging protocol: ask every peer over ut_pex")
	fs.BoolVar(&o.encrypt, "encrypt", false, "connect with Message Stream Encryption (falls back to plain)")
	fs.StringVar(&o.out, "out", "", "write the report to `FILE` (JSON), the graph to FILE.dot and the coverage to FILE.coverage.tsv")
	fs.BoolVar(&o.json, "json", false, "print one JSON object a line")
	fs.BoolVar(&o.quiet, "quiet", false, cli.QuietUsage)
	cli.AddLogLevel(fs, &o.logLevel)
	return fs
}

func runCrawl(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o crawlOpts
	fs := o.flagSet()
	if err := btCrawlCmd.ParseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	c := cli.Checks{Cmd: "pex bt crawl"}
	c.NoArgs(fs.Args())
	if o.concurrency <= 0 {
		c.Fail("concurrency", "must be positive, got %d", o.concurrency)
	}
	if o.pexWait <= 0 || o.duration <= 0 {
		c.Fail("duration", "--duration and --pex-wait must be positive")
	}
	c.NonNegativeDuration("idle", o.idle)
	c.NonNegativeDuration("revisit", o.revisit)
	c.HostPort("dht-listen", o.dhtListen)
	c.LogLevel(o.logLevel)
	o.swarmFlags.check(&c)
	c.OutputFile("out", o.out)
	if err := c.Report(stderr); err != nil {
		return err
	}
	target, err := swarmTarget(o.infohash, o.magnet, o.torrent)
	var pe *os.PathError
	if errors.As(err, &pe) {
		return err
	}
	if err != nil {
		fmt.Fprintln(stderr, "pex bt crawl:", err)
		return cli.ErrUsage
	}
	if o.noTrackers {
		target.Trackers, target.Peers = nil, nil
	}
	pr := cli.NewPrinter(stdout, o.json).Quiet(o.quiet)
	ih := target.InfoHash
	peers, trackers := append(slices.Clone(o.peers), target.Peers...), append(slices.Clone(o.trackers), target.Trackers...)
	useDHT := len(o.dhtBoot) > 0 && !target.Private
	// The DHT's socket is bound before anything is printed: a port in use
	// fails the start, naming --dht-listen.
	var node *dht.Node
	if useDHT {
		if node, err = dht.Start(dht.Config{Listen: o.dhtListen, Bootstrap: o.dhtBoot}); err != nil {
			return dhtBindError(o.dhtListen, err)
		}
		defer node.Close()
	}
	cr, err := crawl.New(ih, &crawl.Config{Concurrency: o.concurrency, PEXWait: o.pexWait, Revisit: o.revisit, NoAZMP: o.noAZMP, Encrypt: o.encrypt,
		Logger: cli.Logger(o.logLevel, stderr)})
	if err != nil {
		return err
	}
	pr.Event("crawl", "infohash", hex.EncodeToString(ih[:]), "private", target.Private)
	for _, p := range peers {
		ap, err := resolvePeer(p)
		if err != nil {
			pr.Event("error", "error", err.Error(), "peer", p)
			continue
		}
		cr.Add(ap, crawl.SourceManual, netip.AddrPort{}, "")
	}
	for _, u := range trackers {
		cr.AddSource(&tracker.Source{URL: u, Announce: tracker.Announce{InfoHash: ih, PeerID: [20]byte{'-', 'P', 'X'}, Left: 1, NumWant: 200},
			Report: func(res tracker.Response, err error) {
				if err != nil {
					pr.Limited("tracker "+u, "error", "error", err.Error(), "tracker", u)
					return
				}
				pr.Event("announced", "tracker", u, "peers", len(res.Peers))
			}})
	}
	if node != nil {
		pr.Event("dht", "addr", node.Addr().String())
		cr.AddSource(&dht.Source{Node: node, InfoHash: ih, Report: func(n int, err error) {
			if err != nil {
				pr.Limited("dht", "error", "error", err.Error())
			}
			pr.Event("dht-lookup", "peers", n)
		}})
	}
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); cr.Run(ctx) }()
	watchCrawl(ctx, cancel, cr, pr, o.idle)
	<-done
	r := cr.Report()
	pr.Flush(true)
	if o.out != "" {
		if err := writeCrawlReport(o.out, r); err != nil {
			return err
		}
	}
	reachedPEX := 0
	for _, p := range r.Peers {
		if p.PEX {
			reachedPEX++
		}
	}
	f := []any{"known", r.Known, "visited", r.Visited, "reached", r.Reached, "reached_pex", reachedPEX, "pex", reachedPEX, "edges", len(r.Edges), "elapsed_s", cli.Round(r.Elapsed, 3)}
	if o.out != "" {
		f = append(f, "out", o.out)
	}
	// A crawl that had somewhere to start and reached nobody failed, as
	// a swarm that connected to nobody does.
	var failed error
	if r.Reached == 0 && (len(peers) > 0 || len(trackers) > 0 || useDHT) {
		failed = errNoneReached(r)
		f = append(f, "error", failed.Error())
	}
	pr.Event("summary", f...)
	return failed
}

// errNoneReached says why a crawl reached no peer: nobody was found, or
// every visit failed, with the first reasons.
func errNoneReached(r *crawl.Report) error {
	if r.Known == 0 {
		return errors.New("no peer reached: no peer found (every tracker and DHT lookup failed or found nobody)")
	}
	var why []string
	seen := map[string]bool{}
	for _, p := range r.Peers {
		if kind := cli.ErrorKind(errors.New(p.Err)); p.Err != "" && !seen[kind] && len(why) < 3 {
			seen[kind] = true
			why = append(why, p.Addr.String()+": "+p.Err)
		}
	}
	msg := fmt.Sprintf("no peer reached: %d known, %d visited, none answered a handshake for this swarm", r.Known, r.Visited)
	if len(why) > 0 {
		msg += " (" + strings.Join(why, "; ") + ")"
	}
	return errors.New(msg)
}

// watchCrawl prints the crawl's events and progress until its events end,
// and ends it (cancel) when idle passed with nothing new.
func watchCrawl(ctx context.Context, cancel func(), cr *crawl.Crawler, pr *cli.Printer, idle time.Duration) {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	last := time.Now()
	evs := cr.Events()
	for {
		select {
		case ev, ok := <-evs:
			if !ok {
				return
			}
			if ev.Type == crawl.EventLearned {
				last = time.Now()
			}
			p := ev.Peer
			if !pr.JSON() {
				// The progress line counts the rest in text mode; a failed
				// visit says why, the repeats of one reason summed up.
				if ev.Type == crawl.EventVisited && p.Err != "" {
					pr.Limited("visited "+cli.ErrorKind(errors.New(p.Err)), "visited", visitedFields(p)...)
				}
				continue
			}
			switch ev.Type {
			case crawl.EventLearned:
				f := []any{"peer", p.Addr.String(), "source", p.Source}
				if p.From.IsValid() {
					f = append(f, "from", p.From.String(), "net", p.Net)
				}
				pr.Event("learned", f...)
			case crawl.EventVisited:
				pr.Event("visited", visitedFields(p)...)
			}
		case <-tick.C:
			pr.Flush(false)
			r := cr.Report()
			if !pr.JSON() {
				pr.Text("elapsed %v; %d known, %d visited, %d reached", time.Duration(r.Elapsed*float64(time.Second)).Truncate(time.Second), r.Known, r.Visited, r.Reached)
			}
			if idle > 0 && time.Since(last) > idle && r.Visited == r.Known {
				cancel()
			}
		case <-ctx.Done():
			// Run closes the events once its visits stopped.
			for range evs {
			}
			return
		}
	}
}

// visitedFields are a visited event's fields.
func visitedFields(p crawl.Peer) []any {
	f := []any{"peer", p.Addr.String(), "reached", p.Reached, "answered", p.Reached, "pex", p.PEX, "named", p.Named}
	if p.Client != "" {
		f = append(f, "client", p.Client)
	}
	if p.Err != "" {
		f = append(f, "reason", p.Err)
	}
	return f
}

// writeCrawlReport writes the report as JSON to path, the graph to
// path.dot and the coverage curve to path.coverage.tsv.
func writeCrawlReport(path string, r *crawl.Report) error {
	js, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, js, 0o644); err != nil {
		return err
	}
	var dot strings.Builder
	r.WriteDOT(&dot)
	if err := os.WriteFile(path+".dot", []byte(dot.String()), 0o644); err != nil {
		return err
	}
	var tsv strings.Builder
	tsv.WriteString("seconds\tknown\tvisited\treached\n")
	for _, p := range r.Coverage {
		fmt.Fprintf(&tsv, "%.1f\t%d\t%d\t%d\n", p.Seconds, p.Known, p.Visited, p.Reached)
	}
	return os.WriteFile(path+".coverage.tsv", []byte(tsv.String()), 0o644)
}
