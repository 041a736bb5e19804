package deptest

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type pkg struct {
	ImportPath string
	Doc        string
	Deps       []string
	Imports    []string
	Name       string
}

func list(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", "github.com/seed0021ed4d/pex/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 4 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

// Heavy dependencies stay out of the core: only pxp/webrtc may import pion,
// and no protocol package imports prometheus.
func TestHeavyDepsStayOut(t *testing.T) {
	for _, p := range list(t) {
		core := strings.Contains(p.ImportPath, "/pxp") || strings.Contains(p.ImportPath, "/bt/") ||
			strings.HasSuffix(p.ImportPath, "/mux") || strings.HasSuffix(p.ImportPath, "/bencode")
		if !core || strings.HasSuffix(p.ImportPath, "/pxp/webrtc") {
			continue
		}
		for _, d := range p.Deps {
			if strings.HasPrefix(d, "github.com/pion/") || strings.HasPrefix(d, "github.com/prometheus/") {
				t.Errorf("%s depends on %s", p.ImportPath, d)
			}
		}
	}
}

// The pex command links no package whose initialisation is heavy: Go runs
// every linked package's init at start, whatever the subcommand, so each
// costs every pex process memory (issue 17). client_golang (with the
// protobuf registry) and gonum/plot (twelve fonts parsed) cost a node
// holding one WebRTC link 2.0 and 3.5 MiB of its 21.6.
func TestCommandLinksNoHeavyInit(t *testing.T) {
	for _, p := range list(t) {
		if p.ImportPath != mod+"cmd/pex" {
			continue
		}
		for _, d := range p.Deps {
			if strings.HasPrefix(d, "github.com/prometheus/client_golang") || strings.HasPrefix(d, "google.golang.org/protobuf") || strings.HasPrefix(d, "gonum.org/v1/plot") {
				t.Errorf("cmd/pex links %s", d)
			}
		}
		return
	}
	t.Fatal("no cmd/pex")
}

const mod = "github.com/seed0021ed4d/pex/"

// pex is the user's command: it links neither the lab's command, its
// simulators and bench harness, nor the labs and their plotting library
// and profile parser.
func TestUserCommandLinksNoLab(t *testing.T) {
	for _, p := range list(t) {
		if p.ImportPath != mod+"cmd/pex" {
			continue
		}
		for _, d := range p.Deps {
			if strings.HasPrefix(d, mod+"cmd/pexlab") || strings.HasPrefix(d, mod+"lab/") || strings.HasPrefix(d, "github.com/go-analyze/charts") ||
				strings.HasPrefix(d, "github.com/google/pprof") {
				t.Errorf("cmd/pex links %s", d)
			}
		}
		return
	}
	t.Fatal("no cmd/pex")
}

// No library package (engines, codecs, transports, what operators run
// beside them, the runtime primitives) depends on anything a command or a
// lab owns: those sit on top, and the engines know nothing of them.
func TestLibraryOwnsNothingOfCommandsOrLab(t *testing.T) {
	for _, p := range list(t) {
		rel := strings.TrimPrefix(p.ImportPath, mod)
		if strings.HasPrefix(rel, "cmd/") || strings.HasPrefix(rel, "lab/") || strings.HasPrefix(rel, "examples") || rel == "internal/deptest" {
			continue
		}
		for _, d := range p.Deps {
			if strings.HasPrefix(d, mod+"cmd/") || strings.HasPrefix(d, mod+"lab/") {
				t.Errorf("%s depends on %s", rel, strings.TrimPrefix(d, mod))
			}
		}
	}
}

// layers: each package of the module and the module packages it may
// import. Codecs sit at the bottom and import only the standard library
// and the codecs below them; engines import codecs; the command sits on
// top. A package missing here fails the test, so a new one must be placed.
var layers = map[string][]string{
	// codecs
	"internal/grow":     nil,
	"internal/rbuf":     {"internal/grow"},
	"internal/version":  nil,
	"bencode":           nil,
	"mux":               {"internal/rbuf"},
	"bt/compact":        nil,
	"bt/mse":            nil,
	"bt/wire":           {"bencode", "internal/grow"},
	"bt/metainfo":       {"bencode"},
	"bt/azmp":           {"bencode", "bt/compact", "bt/wire", "internal/grow"},
	"bt/pex":            {"bencode", "bt/compact", "bt/azmp"},
	"bt/holepunch":      nil,
	"internal/jsonscan": nil,
	"pxp/wire":          {"internal/jsonscan"},
	// engines, sources and transports
	"bt/tracker":          {"bencode", "bt/compact"},
	"bt/dht":              nil,
	"bt/utp":              nil,
	"bt/crawl":            {"bt/azmp", "bt/compact", "bt/mse", "bt/pex", "bt/wire", "internal/version"},
	"bt/swarm":            {"bt/azmp", "bt/compact", "bt/holepunch", "bt/mse", "bt/pex", "bt/utp", "bt/wire", "internal/acceptloop", "internal/gate", "internal/version"},
	"pxp":                 {"mux", "internal/jsonscan", "pxp/psk", "pxp/wire", "internal/acceptloop", "internal/gate", "internal/pxphook"},
	"pxp/psk":             nil, // private networks: the Noise handshake and framing, on flynn/noise
	"pxp/webrtc":          {"pxp", "turnrest"},
	"transport/ws":        nil,
	"web":                 nil,
	"internal/acceptloop": nil,
	"internal/gate":       nil,
	"internal/pxphook":    nil, // the lab's hooks into pxp, which pxp sets in its init
	"portmap":             nil,
	"metrics":             {"pxp", "bt/swarm"},
	"metrics/prom":        {"metrics", "pxp"},
	"peerstore":           nil,
	"turnrest":            nil,
	// the lab: in-process networks, the NAT lab, the process harness and
	// the suites that drive real processes
	"lab/memnet":   nil,
	"lab/loopback": nil,
	"lab/natlab":   nil,
	"lab/proc":     nil,
	"lab/testcert": nil,
	"lab/nginx":    nil,
	"lab/interop":  {"lab/proc"},
	"lab/attack":   {"lab/proc"},
	"lab/nat":      {"lab/natlab", "lab/proc"},
	// tests only
	"internal/deptest": nil,
	"examples":         nil,
	// programs shown in README.md
	"examples/pxp":     {"pxp"},
	"examples/btswarm": {"bt/metainfo", "bt/swarm"},
	// the commands: the user's, the lab's, and what they share
	// (soak reads heap profiles with github.com/google/pprof/profile,
	// Go's own parser of the format: a dependency of the lab alone,
	// TestUserCommandLinksNoLab)
	"cmd/internal/cli":         {"metrics"},
	"cmd/pex":                  {"cmd/internal/cli", "bt/crawl", "bt/dht", "bt/pex", "bt/wire", "bt/metainfo", "bt/swarm", "bt/tracker", "bt/utp", "internal/version", "metrics", "peerstore", "portmap", "pxp", "pxp/psk", "pxp/webrtc", "transport/ws", "turnrest", "web"},
	"cmd/pexlab/internal/sim":  {"lab/memnet", "pxp", "bt/swarm", "bt/pex", "bt/wire", "internal/pxphook"},
	"cmd/pexlab/internal/soak": {"lab/proc", "pxp", "pxp/wire", "mux", "transport/ws", "bt/swarm", "bt/wire", "bt/pex", "bencode"},
	"cmd/pexlab":               {"cmd/internal/cli", "cmd/pexlab/internal/sim", "cmd/pexlab/internal/soak", "lab/proc", "bt/metainfo", "bt/pex", "bt/wire", "bt/compact", "metrics", "pxp", "pxp/webrtc", "lab/memnet"},
}

// codecs import nothing outside the standard library and the module.
var codecs = []string{"internal/grow", "internal/rbuf", "bencode", "mux", "bt/compact", "bt/mse", "bt/wire", "bt/metainfo", "bt/azmp", "bt/pex", "bt/holepunch", "internal/jsonscan", "pxp/wire"}

type imports struct {
	ImportPath string
	Imports    []string
}

// Every package imports only the module packages its layer allows: codecs
// only the codecs below them, pxp nothing of bt, and so on.
func TestLayers(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var p imports
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(p.ImportPath, mod)
		allowed, ok := layers[rel]
		if !ok {
			t.Errorf("package %s has no layer in deptest's table", rel)
			continue
		}
		seen++
		codec := slices.Contains(codecs, rel)
		for _, imp := range p.Imports {
			if dep, inModule := strings.CutPrefix(imp, mod); inModule {
				if !slices.Contains(allowed, dep) {
					t.Errorf("%s imports %s, which its layer does not allow", rel, dep)
				}
			} else if codec && strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") {
				t.Errorf("codec %s imports %s, outside the standard library", rel, imp)
			}
		}
	}
	if seen < len(codecs) {
		t.Fatalf("go list found only %d packages", seen)
	}
}

// Only pxp/webrtc imports pion, the heaviest dependency: not even the
// command does.
func TestOnlyWebRTCImportsPion(t *testing.T) {
	for _, p := range list(t) {
		if strings.HasSuffix(p.ImportPath, "/pxp/webrtc") {
			continue
		}
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, "github.com/pion/") {
				t.Errorf("%s imports %s", p.ImportPath, imp)
			}
		}
	}
}

// A comment directly above a package clause is the package's doc comment,
// whatever file it is in: "go doc" prints it first. Only one file of a
// package has one, and it starts "Package NAME" (or "Command NAME"); a
// file's own comment is kept apart from the clause by a blank line.
func TestNoStrayPackageComments(t *testing.T) {
	root := filepath.Join("..", "..")
	docs := map[string][]string{} // directory -> files with a doc comment
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && p != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			return err
		}
		if f.Doc == nil {
			return nil
		}
		text := f.Doc.Text()
		if !strings.HasPrefix(text, "Package "+f.Name.Name+" ") && !strings.HasPrefix(text, "Command ") {
			t.Errorf("%s: the comment above its package clause is taken as the package's doc (%q): put a blank line between them", p, strings.SplitN(text, "\n", 2)[0])
		}
		key := filepath.Dir(p) + " " + f.Name.Name
		docs[key] = append(docs[key], p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) < 20 {
		t.Fatalf("found only %d packages with a doc comment", len(docs))
	}
	for _, files := range docs {
		if len(files) > 1 {
			t.Errorf("more than one file carries the package doc: %v", files)
		}
	}
}

func TestEveryPackageHasADocComment(t *testing.T) {
	for _, p := range list(t) {
		if strings.TrimSpace(p.Doc) == "" {
			t.Errorf("package %s has no doc comment", p.ImportPath)
		}
	}
}
