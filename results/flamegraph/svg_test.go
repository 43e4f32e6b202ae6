package flamegraph

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/testenv"
)

// golden compares got with testdata/<name> (testenv.Golden).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testenv.Golden(t, filepath.Join("testdata", name), got)
}

// svgFrame is one drawn frame read back from an SVG.
type svgFrame struct {
	name, title, label, fill string
	depth                    int
	x, w                     float64
}

// decodeSVG parses an SVG strictly with encoding/xml and returns its frames.
func decodeSVG(data []byte) ([]svgFrame, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	var frames []svgFrame
	var cur *svgFrame
	var in string // element whose text is being read inside a frame
	root := true
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return frames, nil
		}
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			attr := func(name string) string {
				for _, a := range tok.Attr {
					if a.Name.Local == name {
						return a.Value
					}
				}
				return ""
			}
			if root {
				if tok.Name.Local != "svg" || tok.Name.Space != "http://www.w3.org/2000/svg" {
					return nil, fmt.Errorf("root element is %v, want svg in the SVG namespace", tok.Name)
				}
				root = false
			}
			switch {
			case tok.Name.Local == "g" && attr("class") == "fg-f":
				depth, err := strconv.Atoi(attr("data-d"))
				if err != nil {
					return nil, err
				}
				frames = append(frames, svgFrame{name: attr("data-n"), depth: depth})
				cur = &frames[len(frames)-1]
			case cur != nil && tok.Name.Local == "rect":
				if cur.x, err = strconv.ParseFloat(attr("x"), 64); err != nil {
					return nil, err
				}
				if cur.w, err = strconv.ParseFloat(attr("width"), 64); err != nil {
					return nil, err
				}
				cur.fill = attr("fill")
			case cur != nil:
				in = tok.Name.Local
			}
		case xml.CharData:
			if cur != nil && in == "title" {
				cur.title += string(tok)
			} else if cur != nil && in == "text" {
				cur.label += string(tok)
			}
		case xml.EndElement:
			if tok.Name.Local == "g" {
				cur = nil
			}
			in = ""
		}
	}
}

func readProfile(t *testing.T, path string) *Profile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := ParseFolded(f)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func byName(t *testing.T, frames []svgFrame) map[string]svgFrame {
	t.Helper()
	m := map[string]svgFrame{}
	for _, f := range frames {
		if _, dup := m[f.name]; dup {
			t.Fatalf("frame %q drawn twice", f.name)
		}
		m[f.name] = f
	}
	return m
}

func TestWriteSVGGolden(t *testing.T) {
	p := readProfile(t, "testdata/small.folded")
	var buf bytes.Buffer
	if err := WriteSVG(&buf, p, Options{Title: "small <test>", Unit: "Ir", Width: 600}); err != nil {
		t.Fatal(err)
	}
	golden(t, "small.svg", buf.Bytes())

	// The same profile built in another order draws the same bytes.
	var q Profile
	stacks := p.Stacks()
	for i := len(stacks) - 1; i >= 0; i-- {
		q.Add(stacks[i].Frames, stacks[i].Value)
	}
	var again bytes.Buffer
	if err := WriteSVG(&again, &q, Options{Title: "small <test>", Unit: "Ir", Width: 600}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("WriteSVG is not deterministic")
	}
}

func TestWriteSVGFrames(t *testing.T) {
	p := readProfile(t, "testdata/small.folded")
	var buf bytes.Buffer
	if err := WriteSVG(&buf, p, Options{Unit: "Ir", Width: 1200}); err != nil {
		t.Fatal(err)
	}
	frames, err := decodeSVG(buf.Bytes())
	if err != nil {
		t.Fatalf("not well-formed XML: %v", err)
	}
	m := byName(t, frames)
	// Inclusive values from small.folded, and the depth of each frame.
	want := []struct {
		name  string
		value float64
		depth int
	}{
		{"all", 110, 0}, {"main", 100, 1}, {"gc", 10, 1}, {"parse", 60, 2}, {"render", 40, 2},
		{"lex", 40, 3}, {"build", 20, 3}, {"readByte", 10, 4}, {"escape <&>", 5, 3},
	}
	if len(frames) != len(want) {
		t.Errorf("%d frames drawn, want %d", len(frames), len(want))
	}
	const full = 1200 - 2*xPad
	for _, w := range want {
		f, ok := m[w.name]
		if !ok {
			t.Errorf("frame %q missing", w.name)
			continue
		}
		if wantW := full * w.value / 110; math.Abs(f.w-wantW) > 0.006 {
			t.Errorf("%s: width %g px, want %g (value %g of 110)", w.name, f.w, wantW, w.value)
		}
		if f.depth != w.depth {
			t.Errorf("%s: depth %d, want %d", w.name, f.depth, w.depth)
		}
		if !strings.HasPrefix(f.title, w.name+": ") || !strings.Contains(f.title, " Ir (") {
			t.Errorf("%s: tooltip %q", w.name, f.title)
		}
	}
	// Children sit inside their parent, in name order, left-aligned.
	if m["main"].x < m["gc"].x || m["parse"].x != m["main"].x || m["build"].x != m["parse"].x {
		t.Errorf("frames out of order: gc %g, main %g, parse %g, build %g", m["gc"].x, m["main"].x, m["parse"].x, m["build"].x)
	}
	if got := m["render"].x + m["render"].w; math.Abs(got-(m["main"].x+m["main"].w)) > 0.02 {
		t.Errorf("render ends at %g, main at %g", got, m["main"].x+m["main"].w)
	}
	// Colours are the frame name's, identical wherever the name appears.
	if m["lex"].fill != hotColour("lex") || m["lex"].fill == m["parse"].fill {
		t.Errorf("colours: lex %s, parse %s", m["lex"].fill, m["parse"].fill)
	}
	// A label is cut to fit its frame.
	if m["all"].label != "all" || m["readByte"].label != "readByte" {
		t.Errorf("labels: all %q, readByte %q", m["all"].label, m["readByte"].label)
	}
}

func TestWriteSVGEscapes(t *testing.T) {
	names := []string{`<script>alert("x")</script>`, "a & b", "]]>", "it's", "\u00e9t\u00e9 \U0001F525"}
	var p Profile
	for i, n := range names {
		p.Add([]string{"root", n}, float64(i+1))
	}
	var buf bytes.Buffer
	if err := WriteSVG(&buf, &p, Options{Title: `"quoted" & <b>`}); err != nil {
		t.Fatal(err)
	}
	frames, err := decodeSVG(buf.Bytes())
	if err != nil {
		t.Fatalf("not well-formed XML: %v", err)
	}
	m := byName(t, frames)
	for _, n := range names {
		if _, ok := m[n]; !ok {
			t.Errorf("frame %q missing or mangled", n)
		}
	}
	if strings.Contains(buf.String(), "<script>alert") {
		t.Error("a frame name was written unescaped")
	}
}

func TestWriteSVGMergesTinyFrames(t *testing.T) {
	var p Profile
	p.Add([]string{"main", "hot"}, 1e6)
	for i := range 5000 {
		p.Add([]string{"main", fmt.Sprintf("cold%04d", i)}, 1)
	}
	p.Add([]string{"other"}, 1) // alone and too narrow: left out
	var buf bytes.Buffer
	if err := WriteSVG(&buf, &p, Options{Width: 1000}); err != nil {
		t.Fatal(err)
	}
	frames, err := decodeSVG(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	m := byName(t, frames)
	if len(frames) != 4 {
		t.Errorf("%d frames drawn, want all, main, hot and one merged box", len(frames))
	}
	merged, ok := m["[5000 small frames]"]
	if !ok {
		t.Fatalf("no merged box among %v", frames)
	}
	const full = 1000 - 2*xPad
	if want := full * 5000 / p.Total(); math.Abs(merged.w-want) > 0.006 {
		t.Errorf("merged box %g px wide, want %g", merged.w, want)
	}
	if merged.fill != mergedFill {
		t.Errorf("merged box fill %s, want %s", merged.fill, mergedFill)
	}
	if _, ok := m["other"]; ok {
		t.Error("a frame narrower than MinWidthPx was drawn")
	}
	// A negative MinWidthPx draws everything.
	buf.Reset()
	if err := WriteSVG(&buf, &p, Options{Width: 1000, MinWidthPx: -1}); err != nil {
		t.Fatal(err)
	}
	if frames, _ := decodeSVG(buf.Bytes()); len(frames) != 5004 {
		t.Errorf("MinWidthPx -1 drew %d frames, want 5004", len(frames))
	}
}

func TestWriteSVGEmptyAndInfinite(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteSVG(&buf, &Profile{}, Options{}); err != nil {
		t.Fatal(err)
	}
	frames, err := decodeSVG(buf.Bytes())
	if err != nil || len(frames) != 0 || !strings.Contains(buf.String(), "No samples") {
		t.Errorf("empty profile: %d frames, err %v", len(frames), err)
	}
	var p Profile
	p.Add([]string{"a"}, math.MaxFloat64)
	p.Add([]string{"b"}, math.MaxFloat64)
	if err := WriteSVG(io.Discard, &p, Options{}); !errors.Is(err, ErrNotFinite) {
		t.Errorf("infinite total: err = %v, want ErrNotFinite", err)
	}
}

func TestWriteDiffSVG(t *testing.T) {
	base := readProfile(t, "testdata/small.folded")
	head, err := ParseFolded(strings.NewReader(
		// lex doubled, build gone, render and gc unchanged, a new frame.
		"main;parse;lex 70\nmain;parse;lex;readByte 10\nmain;render 35\nmain;render;escape <&> 5\ngc 10\nmain;newThing 20\n"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteDiffSVG(&buf, base, head, Options{Unit: "Ir", Width: 600}); err != nil {
		t.Fatal(err)
	}
	golden(t, "small_diff.svg", buf.Bytes())
	frames, err := decodeSVG(buf.Bytes())
	if err != nil {
		t.Fatalf("not well-formed XML: %v", err)
	}
	m := byName(t, frames)
	if _, ok := m["build"]; ok {
		t.Error("a frame only in base was drawn")
	}
	// Shares: lex 40/110 -> 80/150 grew; gc 10/110 -> 10/150 shrank;
	// newThing 0 -> 20/150 grew; all is 100% in both.
	red := func(fill string) bool { return strings.HasPrefix(fill, "rgb(255,") && fill != "rgb(255,255,255)" }
	blue := func(fill string) bool {
		return strings.HasSuffix(fill, ",255)") && !strings.HasPrefix(fill, "rgb(255,")
	}
	for name, check := range map[string]func(string) bool{"lex": red, "newThing": red, "gc": blue, "render": blue} {
		if !check(m[name].fill) {
			t.Errorf("%s has fill %s", name, m[name].fill)
		}
	}
	if m["all"].fill != "rgb(235,235,235)" {
		t.Errorf("all has fill %s, want the neutral grey", m["all"].fill)
	}
	// The most changed frame is the most intense.
	if m["lex"].fill != "rgb(255,35,35)" {
		t.Errorf("lex (the largest change) has fill %s, want rgb(255,35,35)", m["lex"].fill)
	}
	if !strings.Contains(m["lex"].title, "80 Ir (53.33%) in head, 40 Ir (36.36%) in base, +16.97 points") {
		t.Errorf("lex tooltip %q", m["lex"].title)
	}
	if math.Abs(m["lex"].w/m["main"].w-80.0/140) > 1e-4 {
		t.Errorf("widths are not head's: lex/main = %g", m["lex"].w/m["main"].w)
	}
}

// TestScriptParses checks the inline script's syntax with Node, which this
// project's machines have (Debian's nodejs); behaviour is covered by the
// layout tests, the script only re-scales what they check.
func TestScriptParses(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Missing(t, "node is not installed; cannot check the script's syntax")
	}
	path := filepath.Join(t.TempDir(), "fg.js")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(node, "--check", path).CombinedOutput(); err != nil {
		t.Fatalf("node --check: %v\n%s", err, out)
	}
}

// TestScriptZoom runs the inline script under Node against a stand-in DOM
// (testdata/zoom_harness.js) built from a real SVG's frames, clicks a frame,
// and checks the geometry the script leaves: the clicked frame fills the
// width, its callees scale with it, its callers span the width, every other
// frame is hidden, and "Reset zoom" restores the original layout.
func TestScriptZoom(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		testenv.Missing(t, "node is not installed; cannot run the script")
	}
	p := readProfile(t, "testdata/small.folded")
	var buf bytes.Buffer
	if err := WriteSVG(&buf, p, Options{Width: 600}); err != nil {
		t.Fatal(err)
	}
	frames, err := decodeSVG(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	type jsFrame struct {
		Name  string  `json:"name"`
		Title string  `json:"title,omitempty"`
		Depth int     `json:"depth"`
		X     float64 `json:"x"`
		W     float64 `json:"w"`
	}
	in := struct {
		Width     int       `json:"width"`
		Pad       int       `json:"pad"`
		CharWidth float64   `json:"charWidth"`
		Frames    []jsFrame `json:"frames"`
	}{Width: 600, Pad: xPad, CharWidth: charWidth}
	for _, f := range frames {
		in.Frames = append(in.Frames, jsFrame{Name: f.name, Title: f.title, Depth: f.depth, X: f.x, W: f.w})
	}
	dir := t.TempDir()
	framesPath := filepath.Join(dir, "frames.json")
	data, _ := json.Marshal(in)
	if err := os.WriteFile(framesPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(node, "testdata/zoom_harness.js", script, framesPath, "lex").Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var res struct {
		Hover        string `json:"hover"`
		ResetVisible string `json:"resetVisible"`
		Zoomed       []struct {
			jsFrame
			Hidden bool   `json:"hidden"`
			Label  string `json:"label"`
		} `json:"zoomed"`
		Restored []struct {
			jsFrame
			Hidden bool `json:"hidden"`
		} `json:"restored"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("harness output %s: %v", out, err)
	}
	orig := byName(t, frames)
	if res.Hover != orig["lex"].title {
		t.Errorf("hover shows %q, want the tooltip %q", res.Hover, orig["lex"].title)
	}
	if res.ResetVisible != "visible" {
		t.Errorf("Reset zoom visibility %q after zooming", res.ResetVisible)
	}
	const full = 600 - 2*xPad
	k := full / orig["lex"].w
	want := map[string]struct{ x, w float64 }{
		"all": {xPad, full}, "main": {xPad, full}, "parse": {xPad, full}, "lex": {xPad, full},
		"readByte": {xPad + (orig["readByte"].x-orig["lex"].x)*k, orig["readByte"].w * k},
	}
	for _, f := range res.Zoomed {
		w, shown := want[f.Name]
		if f.Hidden == shown {
			t.Errorf("after zoom, %s hidden=%v", f.Name, f.Hidden)
			continue
		}
		if shown && (math.Abs(f.X-w.x) > 0.1 || math.Abs(f.W-w.w) > 0.1) {
			t.Errorf("after zoom, %s at x=%g w=%g, want x=%g w=%g", f.Name, f.X, f.W, w.x, w.w)
		}
		if f.Name == "readByte" && f.Label != "readByte" {
			t.Errorf("zoomed readByte labelled %q, want the full name", f.Label)
		}
	}
	for _, f := range res.Restored {
		o := orig[f.Name]
		if f.Hidden || math.Abs(f.X-o.x) > 0.006 || math.Abs(f.W-o.w) > 0.006 {
			t.Errorf("after reset, %s at x=%g w=%g hidden=%v, want x=%g w=%g", f.Name, f.X, f.W, f.Hidden, o.x, o.w)
		}
	}
}

func TestWriteSVGTinyTotal(t *testing.T) {
	var p Profile
	p.Add([]string{"a"}, 5e-324)
	p.Add([]string{"a", "b"}, 5e-324)
	var buf bytes.Buffer
	if err := WriteSVG(&buf, &p, Options{Width: 400}); err != nil {
		t.Fatal(err)
	}
	frames, err := decodeSVG(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	m := byName(t, frames)
	if m["a"].w != 380 || m["b"].w != 190 {
		t.Errorf("widths a=%g b=%g, want 380 and 190", m["a"].w, m["b"].w)
	}
}
