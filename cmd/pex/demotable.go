// The end of pex demo: its summary table and the legend under it.

package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"
)

// demoLegend explains the table's columns.
const demoLegend = "peers: links held at the end; transports: how they are carried; " +
	"reached: time to reach --want peers; calls, fails: GetNewPeer calls and how many failed; " +
	"messages, bytes: PXP control messages and bytes the node sent on its direct links."

func (d *demo) summary(all []*demoNode) {
	type row struct {
		Node      string  `json:"node"`
		Peers     int     `json:"peers"`
		Transport string  `json:"transports"`
		ReachedMs float64 `json:"reached_ms"`
		Calls     int     `json:"getnewpeer_calls"`
		Fails     int     `json:"getnewpeer_failures"`
		Messages  uint64  `json:"messages_sent"`
		Bytes     uint64  `json:"bytes_sent"`
	}
	var rows []row
	var totalMsgs, totalBytes uint64
	d.mu.Lock()
	for _, dn := range all {
		st := dn.ex.Stats()
		kinds := map[string]int{}
		for _, p := range dn.ex.Peers() {
			kinds[p.Transport()]++
		}
		keys := make([]string, 0, len(kinds))
		for k := range kinds {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		tr := ""
		for _, k := range keys {
			if tr != "" {
				tr += ","
			}
			tr += fmt.Sprintf("%s:%d", k, kinds[k])
		}
		rows = append(rows, row{dn.name, st.Peers, tr, ms(dn.reached), dn.calls, dn.fails, st.MessagesSent, st.BytesSent})
		totalMsgs += st.MessagesSent
		totalBytes += st.BytesSent
	}
	d.mu.Unlock()
	since := time.Since(d.start)
	elapsed, elapsedS := ms(since), cli.Seconds(since)
	d.mu.Lock()
	reached := d.reached
	d.mu.Unlock()
	switch {
	case d.pr.JSON():
		d.pr.Event("summary", "node_rows", rows, "nodes", rows, "reached", reached, "total", len(rows)-1, "elapsed_s", elapsedS, "elapsed_ms", elapsed, "messages_sent", totalMsgs, "bytes_sent", totalBytes)
		return
	case d.quiet: // no table: the summary's totals as an event
		d.pr.Event("summary", "reached", reached, "total", len(rows)-1, "elapsed_s", elapsedS, "elapsed_ms", elapsed, "messages_sent", totalMsgs, "bytes_sent", totalBytes)
		return
	}
	d.pr.Text("\n%-6s %5s  %-18s %10s %6s %6s %9s %10s", "node", "peers", "transports", "reached", "calls", "fails", "messages", "bytes")
	for _, r := range rows {
		reached := "-"
		if r.ReachedMs > 0 {
			reached = fmt.Sprintf("%.1fms", r.ReachedMs)
		}
		if r.Node == "boot" {
			reached = "(boot)"
		}
		d.pr.Text("%-6s %5d  %-18s %10s %6d %6d %9d %10d", r.Node, r.Peers, r.Transport, reached, r.Calls, r.Fails, r.Messages, r.Bytes)
	}
	d.pr.Text("\ntotal: %d control messages, %d bytes sent on direct links, %.0f ms", totalMsgs, totalBytes, elapsed)
	d.pr.Text("%s", strings.TrimRight(cli.Wrap(demoLegend, 78, ""), "\n"))
}
