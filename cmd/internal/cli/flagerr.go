package cli

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FlagError rewrites an error of fs.Parse (Go's flag package speaks of
// "-name", says "parse error" and offers no example) in the words of the
// help: the flag as --name, what it wants with an example, and for a
// misspelt flag the nearest one.
//
//	--duration: want a duration such as 30s or 2m, got "1"
//	unknown flag --netwrok; did you mean --network?
func FlagError(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		s := "unknown flag --" + name
		if sug := Suggest(fs, name); sug != "" {
			s += "; did you mean --" + sug + "?"
		}
		return s
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return fmt.Sprintf("--%s needs a value: want %s", name, Want(fs.Lookup(name)))
	}
	if rest, ok := strings.CutPrefix(msg, "invalid value "); ok {
		if v, name, why, ok := cutInvalid(rest, " for flag -"); ok {
			return invalidValue(fs.Lookup(name), name, v, why)
		}
	}
	if rest, ok := strings.CutPrefix(msg, "invalid boolean value "); ok {
		if v, name, _, ok := cutInvalid(rest, " for -"); ok {
			return fmt.Sprintf("--%s: a switch: give --%s alone, or --%s=true or --%s=false; got %s", name, name, name, name, v)
		}
	}
	if s, ok := strings.CutPrefix(msg, "bad flag syntax: "); ok {
		return fmt.Sprintf("bad flag syntax %q: a flag is --NAME, --NAME VALUE or --NAME=VALUE", s)
	}
	return msg
}

// cutInvalid splits `"VALUE"<sep>NAME: WHY` (VALUE Go-quoted).
func cutInvalid(s, sep string) (value, name, why string, ok bool) {
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", "", "", false
	}
	rest, ok := strings.CutPrefix(s[len(q):], sep)
	if !ok {
		return "", "", "", false
	}
	name, why, _ = strings.Cut(rest, ": ")
	return q, name, why, true
}

func invalidValue(f *flag.Flag, name, quoted, why string) string {
	s := fmt.Sprintf("--%s: want %s, got %s", name, Want(f), quoted)
	switch why {
	case "parse error", "":
	case "value out of range":
		s += " (out of range)"
	default:
		s += " (" + why + ")"
	}
	return s
}

// Want says what a flag's value should look like, with an example: "a
// duration such as 30s or 2m", "a whole number such as 8", or the name
// its usage gives the value ("HOST:PORT").
func Want(f *flag.Flag) string {
	if f == nil {
		return "a value"
	}
	if g, ok := f.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case time.Duration:
			return "a duration such as 30s or 2m"
		case int, int64:
			return "a whole number such as 8"
		case uint, uint64:
			return "a whole number, 0 or more, such as 8"
		case float64:
			return "a number such as 0.5"
		case bool:
			return "true or false"
		}
	}
	if name, _ := flag.UnquoteUsage(f); name != "" && name != "value" && name != "string" {
		return name
	}
	return "a value"
}

// Suggest returns the flag of fs nearest to name, a misspelt flag: the
// one name begins (at least three letters), or the one fewest edits away
// (a letter added, dropped, changed, or two swapped) when that is at most
// a third of its length (at least one); "" when none is near.
func Suggest(fs *flag.FlagSet, name string) string {
	name = strings.ToLower(strings.TrimLeft(name, "-"))
	if i := strings.IndexByte(name, '='); i >= 0 {
		name = name[:i]
	}
	var prefixed []string
	best, bestD := "", -1
	fs.VisitAll(func(f *flag.Flag) {
		if len(name) >= 3 && strings.HasPrefix(f.Name, name) {
			prefixed = append(prefixed, f.Name)
		}
		if d := EditDistance(name, f.Name); bestD < 0 || d < bestD {
			best, bestD = f.Name, d
		}
	})
	if len(prefixed) == 1 {
		return prefixed[0]
	}
	if bestD >= 0 && bestD <= max(1, len(name)/3) {
		return best
	}
	return ""
}

// EditDistance is the optimal string alignment distance between a and b:
// the letters inserted, deleted or substituted, and adjacent pairs
// swapped, to turn one into the other.
func EditDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// d[i][j]: the distance between ra[:i] and rb[:j].
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
