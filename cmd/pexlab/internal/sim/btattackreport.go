package sim

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// BTAttackTable is a BitTorrent run with attackers as a text table, beside
// the same run without them.
func BTAttackTable(r *BTResult) string {
	a, c := r.Attack, r.Config
	var b strings.Builder
	dead := fmt.Sprintf("such dials time out after %v", a.Attack.DeadWait)
	if a.Attack.DeadWait < 0 {
		dead = "such dials are refused at once"
	}
	fmt.Fprintf(&b, "BitTorrent under attack: %d peers of %d connections, %d honest and %d attackers over %d /24s; protocol time x%g (%.1f s of real time for both runs)\n",
		c.Peers, c.MaxPeers, a.Honest, a.Attackers, a.Attack.Prefixes, c.Scale, r.Wall.Seconds())
	fmt.Fprintf(&b, "  an attacker sends %g PEX messages a link a protocol minute, of %d addresses: %d victims (of %d ports each), up to %d attackers, the rest where nothing listens (%s)\n",
		a.Attack.Rate, a.Attack.Added, a.Attack.Victims, a.Attack.VictimPorts, attackNamed, dead)
	fmt.Fprintf(&b, "  honest peers: share of the honest swarm known (mean / least), connections open to honest peers (mean), dials wasted so far\n")
	fmt.Fprintf(&b, "    %-8s %-40s %s\n", "time", "attacked", "unattacked")
	at, base := a.Attacked.Points, a.Baseline.Points
	for i, p := range at {
		if i > 12 && i%10 != 0 && i != len(at)-1 {
			continue
		}
		q := nearestAt(base, p.T)
		fmt.Fprintf(&b, "    %-8s %5.1f %% / %5.1f %%, %4.1f conns, %8d   %5.1f %% / %5.1f %%, %4.1f conns, %d\n",
			p.T.Round(time.Second), 100*p.Mean, 100*p.Min, p.HonestConns, p.Wasted, 100*q.Mean, 100*q.Min, q.HonestConns, q.Wasted)
	}
	row := func(name, with, without string) { fmt.Fprintf(&b, "    %-26s %-32s %s\n", name, with, without) }
	fmt.Fprintf(&b, "  at the end\n")
	row("", "attacked", "unattacked")
	la, lb := a.Attacked.Last(), a.Baseline.Last()
	pct := func(f float64) string { return fmt.Sprintf("%.1f %%", 100*f) }
	row("known, mean", pct(la.Mean), pct(lb.Mean))
	row("known, least", pct(la.Min), pct(lb.Min))
	sides := [2]*BTSide{&a.Attacked, &a.Baseline}
	col := func(f func(s *BTSide) string) (string, string) { return f(sides[0]), f(sides[1]) }
	row2 := func(name string, f func(s *BTSide) string) { x, y := col(f); row(name, x, y) }
	row2("links to honest peers", func(s *BTSide) string { return fmt.Sprintf("%.1f", s.HonestLinks) })
	row2("links to attackers", func(s *BTSide) string { return fmt.Sprintf("%.1f", s.LinksToAttackers) })
	h := float64(a.Honest)
	row2("dials to honest peers", func(s *BTSide) string { return fmt.Sprint(s.Dials.Honest) })
	row2("dials to attackers", func(s *BTSide) string { return fmt.Sprint(s.Dials.Attacker) })
	row2("dials wasted", func(s *BTSide) string {
		return fmt.Sprintf("%d (%.1f a peer, most %d)", s.Dials.Wasted(), float64(s.Dials.Wasted())/h, s.WastedMax)
	})
	row2("  to no listener", func(s *BTSide) string {
		return fmt.Sprintf("%d (most in flight %d)", s.Dials.Dead, s.DeadInFlightMax)
	})
	row2("  to victims", func(s *BTSide) string { return fmt.Sprint(s.Dials.Victim) })
	row2("dials a victim took", func(s *BTSide) string {
		m, mean, perMin, peak := s.VictimFigures()
		return fmt.Sprintf("most %d, mean %.0f", m, mean) + fmt.Sprintf("; %.1f/min, peak %d", perMin, peak)
	})
	row2("PEX from attackers", func(s *BTSide) string {
		return fmt.Sprintf("%d received, %d taken", s.PEXFromAttackers, s.TakenFromAttackers)
	})
	row2("attackers sent", func(s *BTSide) string { return fmt.Sprintf("%d PEX, %d addresses", s.AttackerPEX, s.AttackerNamed) })
	row2("attackers' links", func(s *BTSide) string {
		return fmt.Sprintf("%.1f each at the end, %d ended", s.LinksPerAttacker, s.AttackerLinksEnded)
	})
	row2("flood disconnects", func(s *BTSide) string { return fmt.Sprint(s.FloodDisconnects) })
	row2("events dropped", func(s *BTSide) string { return fmt.Sprint(s.EventsDropped) })
	row2("samples (1 min apart)", func(s *BTSide) string { return fmt.Sprintf("at most %v apart", s.SampleGapMax.Round(time.Second)) })
	return b.String()
}

// WriteBTAttack writes a run with attackers' plots and tables under dir
// and returns the files' names.
func WriteBTAttack(dir string, r *BTResult) ([]string, error) {
	var files []string
	write := func(name string, err error) error {
		if err == nil {
			files = append(files, name)
		}
		return err
	}
	name := filepath.Join(dir, "bt-attack-summary.txt")
	if err := write(name, os.WriteFile(name, []byte(BTAttackTable(r)), 0o644)); err != nil {
		return files, err
	}
	name = filepath.Join(dir, "bt-attack-result.json")
	b, _ := json.MarshalIndent(r, "", "  ")
	if err := write(name, os.WriteFile(name, b, 0o644)); err != nil {
		return files, err
	}
	a := r.Attack
	line := func(name string, pts []BTPoint, f func(BTPoint) float64) series {
		s := series{name: name}
		for _, p := range pts {
			s.x, s.y = append(s.x, p.T.Minutes()), append(s.y, f(p))
		}
		return s
	}
	mean := func(p BTPoint) float64 { return p.Mean }
	least := func(p BTPoint) float64 { return p.Min }
	name = filepath.Join(dir, "bt-attack-knowledge.svg")
	title := fmt.Sprintf("Honest peers' knowledge of the honest swarm, %d honest, with and without %d attackers", a.Honest, a.Attackers)
	if err := write(name, plotXY(name, title, "protocol minutes", "share of the honest swarm known", unitRange(), true,
		line("attacked, mean", a.Attacked.Points, mean), line("attacked, least", a.Attacked.Points, least),
		line("unattacked, mean", a.Baseline.Points, mean), line("unattacked, least", a.Baseline.Points, least))); err != nil {
		return files, err
	}
	name = filepath.Join(dir, "bt-attack-conns.svg")
	if err := write(name, plotXY(name, "Connections an honest peer has open, mean", "protocol minutes", "connections", nil, true,
		line("to honest peers, attacked", a.Attacked.Points, func(p BTPoint) float64 { return p.HonestConns }),
		line("to attackers, attacked", a.Attacked.Points, func(p BTPoint) float64 { return p.AttackerConns }),
		line("to honest peers, unattacked", a.Baseline.Points, func(p BTPoint) float64 { return p.HonestConns }))); err != nil {
		return files, err
	}
	name = filepath.Join(dir, "bt-attack-dials.svg")
	h, v := float64(a.Honest), float64(max(1, a.Attack.Victims))
	return files, write(name, plotXY(name, "Dials wasted, so far", "protocol minutes", "dials", nil, true,
		line("wasted, an honest peer, attacked", a.Attacked.Points, func(p BTPoint) float64 { return float64(p.Wasted) / h }),
		line("taken by a victim, attacked", a.Attacked.Points, func(p BTPoint) float64 { return float64(p.VictimDials) / v }),
		line("wasted, an honest peer, unattacked", a.Baseline.Points, func(p BTPoint) float64 { return float64(p.Wasted) / h })))
}

// nearestAt is the point of pts nearest protocol time t (the two runs
// sample at their own times).
func nearestAt(pts []BTPoint, t time.Duration) BTPoint {
	var best BTPoint
	for i, p := range pts {
		if i == 0 || (p.T-t).Abs() < (best.T-t).Abs() {
			best = p
		}
	}
	return best
}
