package deptest

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

type pkg struct {
	ImportPath string
	Doc        string
	Deps       []string
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

// Wire codecs depend on the standard library only.
func TestCodecsUseOnlyTheStandardLibrary(t *testing.T) {
	for _, p := range list(t) {
		if !strings.HasSuffix(p.ImportPath, "/mux") && !strings.HasSuffix(p.ImportPath, "/bencode") {
			continue
		}
		for _, d := range p.Deps {
			if strings.Contains(strings.SplitN(d, "/", 2)[0], ".") {
				t.Errorf("%s depends on %s", p.ImportPath, d)
			}
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
