package run

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Progress shows what is being measured on standard error: a line redrawn in
// place on a terminal, plain lines otherwise (CI logs). It implements
// instruments.Progress.
type Progress struct {
	w   io.Writer
	tty bool

	mu        sync.Mutex
	target    string
	pos, n    int
	phase     string
	done, tot int
	last      time.Time
	drawn     bool
	warned    map[string]bool
	groups    Grouper
	inGroup   bool
}

// Grouper folds a CI log into collapsible sections (GitHub's ::group::,
// GitLab's section_start); internal/ci's Info is one.
type Grouper interface {
	GroupStart(w io.Writer, title string)
	GroupEnd(w io.Writer)
}

// NewProgress writes to w; tty selects in-place redraws.
func NewProgress(w io.Writer, tty bool) *Progress { return &Progress{w: w, tty: tty} }

// WithGroups makes each target a collapsible section of a CI log.
func (p *Progress) WithGroups(g Grouper) *Progress {
	p.groups = g
	return p
}

// Start announces a target.
func (p *Progress) Start(name string, pos, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target, p.pos, p.n, p.phase, p.done, p.tot = name, pos, n, "", 0, 0
	if p.groups != nil && !p.tty {
		p.endGroup()
		p.groups.GroupStart(p.w, fmt.Sprintf("codspeed [%d/%d] %s", pos, n, name))
		p.inGroup = true
		return
	}
	if !p.tty {
		fmt.Fprintf(p.w, "[%d/%d] %s\n", pos, n, name)
		return
	}
	p.draw()
}

// Section titles a group of targets (one mode of several).
func (p *Progress) Section(title string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fmt.Fprintf(p.w, "== %s\n", title)
}

// Phase implements instruments.Progress.
func (p *Progress) Phase(benchmark, phase string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.phase, p.done, p.tot = phase, 0, 0
	if benchmark != "" {
		p.target = benchmark
	}
	if !p.tty {
		fmt.Fprintf(p.w, "  %s: %s\n", p.target, phase)
		return
	}
	p.draw()
}

// Step implements instruments.Progress; terminal redraws are limited to 20 a
// second so that progress never costs the benchmark.
func (p *Progress) Step(done, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.tot = done, total
	if !p.tty || time.Since(p.last) < 50*time.Millisecond {
		return
	}
	p.draw()
}

// Warn implements instruments.Progress. A warning is shown once per run,
// however many targets raise it.
func (p *Progress) Warn(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.warned[msg] {
		return
	}
	if p.warned == nil {
		p.warned = map[string]bool{}
	}
	p.warned[msg] = true
	p.clear()
	fmt.Fprintf(p.w, "warning: %s\n", msg)
	if p.tty && p.target != "" {
		p.draw()
	}
}

// Fail shows a failure in full, every time (unlike warnings): the table
// that ends the run shows only its first line.
func (p *Progress) Fail(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fmt.Fprintf(p.w, "error: %s\n", msg)
	if p.tty && p.target != "" {
		p.draw()
	}
}

// Done clears the progress line and closes the open log group.
func (p *Progress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	p.endGroup()
	p.target = ""
}

func (p *Progress) endGroup() {
	if p.inGroup {
		p.groups.GroupEnd(p.w)
		p.inGroup = false
	}
}

func (p *Progress) clear() {
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

func (p *Progress) draw() {
	p.last = time.Now()
	var b strings.Builder
	fmt.Fprintf(&b, "\r\033[K[%d/%d] %s", p.pos, p.n, p.target)
	if p.phase != "" {
		fmt.Fprintf(&b, ": %s", p.phase)
	}
	if p.tot > 0 {
		const width = 20
		filled := min(width, p.done*width/p.tot)
		fmt.Fprintf(&b, " [%s%s] %d/%d", strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.done, p.tot)
	} else if p.done > 0 {
		fmt.Fprintf(&b, " %d", p.done)
	}
	fmt.Fprint(p.w, b.String())
	p.drawn = true
}
