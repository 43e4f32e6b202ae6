package flamegraph

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

// syntheticProfile makes n stacks up to 40 frames deep over a vocabulary of
// 2000 function names, with a heavy-tailed value per stack, like a perf or
// callgrind profile of a real program.
func syntheticProfile(n int) *Profile {
	rng := rand.New(rand.NewPCG(1, 2))
	names := make([]string, 2000)
	for i := range names {
		names[i] = fmt.Sprintf("pkg%d.(*Type%d).Method%d", i%37, i%101, i)
	}
	var p Profile
	stack := make([]string, 0, 40)
	for range n {
		stack = stack[:0]
		depth := 1 + rng.IntN(40)
		for d := range depth {
			// Shallow frames come from few names, deep ones from many,
			// as call trees fan out.
			stack = append(stack, names[rng.IntN(min(len(names), 2+d*d*2))])
		}
		p.Add(stack, float64(1+int(1000/(1+rng.Float64()*999))))
	}
	return &p
}

// countingWriter counts the bytes of a graph without keeping them.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(b []byte) (int, error) { c.n += int64(len(b)); return len(b), nil }

func BenchmarkWriteSVG(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		p := syntheticProfile(n)
		b.Run(fmt.Sprintf("stacks=%d", n), func(b *testing.B) {
			var cw countingWriter
			for b.Loop() {
				cw.n = 0
				if err := WriteSVG(&cw, p, Options{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cw.n), "svg-bytes")
		})
	}
}

func BenchmarkParseFolded(b *testing.B) {
	p := syntheticProfile(100000)
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(p.WriteFolded(pw)) }()
	data, err := io.ReadAll(pr)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseFolded(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}
