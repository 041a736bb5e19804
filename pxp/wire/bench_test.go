package wire

import "testing"

// BenchmarkParseMessage parses the lines of a captured session in turn
// (docs/pxp-capture.txt), against the same parse written on encoding/json
// alone, as it was before package jsonscan.
func BenchmarkParseMessage(b *testing.B) {
	lines := make([][]byte, 9)
	for i := range lines {
		lines[i] = []byte(seedLines[i])
	}
	for _, impl := range []struct {
		name  string
		parse func([]byte) (Message, error)
	}{{"jsonscan", ParseMessage}, {"encoding-json", parseWithEncodingJSON}} {
		b.Run(impl.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := impl.parse(lines[i%len(lines)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
