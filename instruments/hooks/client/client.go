// Package client lets a Go program mark its measured regions for a CodSpeed
// runner (this project's or CodSpeed's own) without cgo. It speaks the
// instrument-hooks pipe protocol when a runner serves the FIFOs, and issues
// callgrind client requests (valgrind's magic instruction sequences, written
// in Go assembly for amd64 and arm64) when the program runs under valgrind,
// the same choice CodSpeed's C library makes.
//
// Connect never fails just because no runner is there: the Client is then
// inactive and every method is a cheap no-op, so benchmarks can call it
// unconditionally.
package client

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/codspeed-go/codspeed-go/instruments/hooks"
	"golang.org/x/sys/unix"
)

// DefaultTimeout is how long a request waits for the runner's answer;
// instrument-hooks waits 1 s too.
const DefaultTimeout = time.Second

// Errors returned by requests.
var (
	// ErrRefused: the runner answered Err (unknown command, refused protocol
	// version, or the runner could not act on it, e.g. start profiling).
	ErrRefused = errors.New("the runner refused the request")
	// ErrNoAnswer: the runner did not answer within the timeout.
	ErrNoAnswer = errors.New("the runner did not answer")
)

// Options tune ConnectWith. The zero value means: FIFOs in $CODSPEED_HOOKS_DIR
// or /tmp, 1 s timeout, protocol version 2, valgrind detection on.
type Options struct {
	// Dir holds runner.ctl.fifo and runner.ack.fifo.
	Dir string
	// Timeout bounds each wait for an answer.
	Timeout time.Duration
	// Protocol is the version announced with SetVersion: 2 (the default)
	// asks the runner's mode with GetIntegrationMode; 1 probes with the
	// deprecated PingPerf as old integrations do and assumes walltime.
	Protocol uint64
	// IgnoreValgrind uses the pipes even under valgrind.
	IgnoreValgrind bool
}

// Client is a connection to the runner; its methods are safe for concurrent
// use. The caller owns it and should Close it.
type Client struct {
	mu       sync.Mutex
	ctl, ack *os.File
	valgrind bool
	mode     hooks.IntegrationMode
	timeout  time.Duration
	pid      int32
	// in holds answer bytes read but not yet used: a wait that times out
	// in the middle of a frame keeps its first part here.
	in []byte
	// late counts answers still owed to requests that timed out. The
	// runner answers in order, so the next answers read are theirs and are
	// discarded: one slow answer does not shift every later one.
	late int
}

// Connect connects with the default Options.
func Connect() (*Client, error) { return ConnectWith(Options{}) }

// ConnectWith connects to the runner: under valgrind it returns a client
// driving callgrind; otherwise it opens the FIFOs and performs the
// handshake (SetVersion, then GetIntegrationMode or PingPerf). Missing FIFOs
// or a silent runner give an inactive client and a nil error; a runner that
// refuses the protocol version gives an error wrapping ErrRefused (with an
// inactive, still usable client).
func ConnectWith(o Options) (*Client, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Protocol == 0 {
		o.Protocol = hooks.CurrentProtocolVersion
	}
	if o.Dir == "" {
		o.Dir = os.Getenv(hooks.DirEnv)
	}
	if o.Dir == "" {
		o.Dir = hooks.DefaultDir
	}
	c := &Client{timeout: o.Timeout, pid: int32(os.Getpid())}
	if !o.IgnoreValgrind && RunningOnValgrind() > 0 {
		c.valgrind, c.mode = true, hooks.ModeSimulation
		return c, nil
	}
	ctlPath := filepath.Join(o.Dir, hooks.CtlFIFOName)
	ackPath := filepath.Join(o.Dir, hooks.AckFIFOName)
	var err error
	if c.ctl, err = openFIFO(ctlPath); err != nil {
		return &Client{}, nil // no runner here
	}
	if c.ack, err = openFIFO(ackPath); err != nil {
		c.ctl.Close()
		return &Client{}, nil
	}
	// An answer left behind by a process that died before reading it would
	// be taken for ours.
	drain(c.ack)

	ans, err := c.roundTrip(hooks.SetVersion(o.Protocol))
	switch {
	case errors.Is(err, ErrNoAnswer):
		c.closePipes()
		return &Client{}, nil // FIFOs left over from a finished run
	case err != nil:
		c.closePipes()
		return &Client{}, fmt.Errorf("connect to runner at %s: %w", o.Dir, err)
	}
	if err := expectAck(ans); err != nil {
		c.closePipes()
		return &Client{}, fmt.Errorf("connect to runner at %s: protocol version %d: %w", o.Dir, o.Protocol, err)
	}
	if o.Protocol >= 2 {
		ans, err = c.roundTrip(hooks.GetIntegrationMode{})
		if err != nil {
			c.closePipes()
			return &Client{}, fmt.Errorf("connect to runner at %s: integration mode: %w", o.Dir, err)
		}
		r, ok := ans.(hooks.IntegrationModeResponse)
		if !ok {
			c.closePipes()
			return &Client{}, fmt.Errorf("connect to runner at %s: integration mode: answered %T", o.Dir, ans)
		}
		c.mode = r.Mode
	} else {
		ans, err = c.roundTrip(hooks.PingPerf{})
		if err != nil || expectAck(ans) != nil {
			c.closePipes()
			return &Client{}, nil // not a walltime runner: v1 clients stay inactive
		}
		c.mode = hooks.ModeWalltime
	}
	return c, nil
}

func openFIFO(path string) (*os.File, error) {
	// O_RDWR never blocks on a FIFO, and an ENOENT says "no runner".
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		f.Close()
		return nil, fmt.Errorf("%s is not a FIFO", path)
	}
	return f, nil
}

func drain(f *os.File) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, 4096)
	for {
		n := 0
		rc.Read(func(fd uintptr) bool {
			n, _ = unix.Read(int(fd), buf)
			return true
		})
		if n <= 0 {
			return
		}
	}
}

func expectAck(c hooks.Command) error {
	switch c.(type) {
	case hooks.Ack:
		return nil
	case hooks.Err:
		return ErrRefused
	}
	return fmt.Errorf("unexpected answer %T", c)
}

// roundTrip sends one command and reads its answer, after the answers owed
// to earlier requests that timed out. Callers hold c.mu or own c
// exclusively.
func (c *Client) roundTrip(cmd hooks.Command) (hooks.Command, error) {
	if _, err := c.ctl.Write(hooks.AppendFrame(nil, cmd)); err != nil {
		return nil, fmt.Errorf("send %T: %w", cmd, err)
	}
	deadline := time.Now().Add(c.timeout)
	heard := false // some answer arrived during this wait
	for {
		ans, err := c.readAnswer(deadline)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if c.late > 0 && !heard {
				// Still owed answers, and not one came in a whole
				// timeout: the runner dropped them rather than being
				// slow. Owe only this request's, or every later call
				// would throw its own answer away.
				c.late = 0
			}
			c.late++
			return nil, fmt.Errorf("%w to %T within %v", ErrNoAnswer, cmd, c.timeout)
		}
		if err != nil {
			return nil, fmt.Errorf("read answer to %T: %w", cmd, err)
		}
		heard = true
		if c.late > 0 {
			c.late-- // a late answer to an earlier request
			continue
		}
		return ans, nil
	}
}

// readAnswer returns the next whole frame from the ack pipe, reading until
// deadline. Bytes of a frame cut by the deadline stay in c.in.
func (c *Client) readAnswer(deadline time.Time) (hooks.Command, error) {
	var buf [512]byte
	for {
		payload, n, err := hooks.SplitFrame(c.in)
		if err != nil {
			// Not a frame boundary: nothing after it can be trusted.
			// Start over from an empty pipe.
			c.in = c.in[:0]
			drain(c.ack)
			return nil, err
		}
		if n > 0 {
			ans, err := hooks.Decode(payload)
			c.in = c.in[:copy(c.in, c.in[n:])]
			return ans, err
		}
		if err := c.ack.SetReadDeadline(deadline); err != nil {
			return nil, err
		}
		m, err := c.ack.Read(buf[:])
		c.in = append(c.in, buf[:m]...)
		if err != nil && m == 0 {
			return nil, err
		}
	}
}

func (c *Client) send(cmd hooks.Command) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctl == nil {
		return nil
	}
	ans, err := c.roundTrip(cmd)
	if err != nil {
		return err
	}
	if err := expectAck(ans); err != nil {
		return fmt.Errorf("%T: %w", cmd, err)
	}
	return nil
}

// Active reports whether a runner (or valgrind) is listening.
func (c *Client) Active() bool { return c != nil && (c.valgrind || c.ctl != nil) }

// Valgrind reports whether the client drives callgrind instead of pipes.
func (c *Client) Valgrind() bool { return c != nil && c.valgrind }

// Mode is the runner's instrument (meaningful when Active).
func (c *Client) Mode() hooks.IntegrationMode { return c.mode }

// SetIntegration names the harness (for example "codspeed-go", "1.2.0").
// Under valgrind it becomes a dump named "Metadata: <name> <version>", as
// CodSpeed's integrations do.
func (c *Client) SetIntegration(name, version string) error {
	if c.Valgrind() {
		DumpStatsAt("Metadata: " + name + " " + version)
		return nil
	}
	return c.send(hooks.SetIntegration{Name: name, Version: version})
}

// StartBenchmark marks the start of a measured region: the runner switches
// profiling on before this returns. Under valgrind it zeroes callgrind's
// counters and starts instrumentation.
func (c *Client) StartBenchmark() error {
	if c.Valgrind() {
		ZeroStats()
		StartInstrumentation()
		return nil
	}
	return c.send(hooks.StartBenchmark{})
}

// StopBenchmark marks the end of the measured region.
func (c *Client) StopBenchmark() error {
	if c.Valgrind() {
		StopInstrumentation()
		return nil
	}
	return c.send(hooks.StopBenchmark{})
}

// CurrentBenchmark names the region just measured (call it after
// StopBenchmark, as CodSpeed's integrations do). Under valgrind it dumps
// callgrind's counters under that name.
func (c *Client) CurrentBenchmark(uri string) error {
	if c.Valgrind() {
		DumpStatsAt(uri)
		return nil
	}
	return c.send(hooks.CurrentBenchmark{Pid: c.pid, URI: uri})
}

// AddMarker sends a timestamp taken with Now (CLOCK_MONOTONIC ns). Under
// valgrind markers mean nothing and are dropped.
func (c *Client) AddMarker(kind hooks.MarkerKind, ns uint64) error {
	if c.Valgrind() {
		return nil
	}
	return c.send(hooks.AddMarker{Pid: c.pid, Marker: hooks.Marker{Kind: kind, Ns: ns}})
}

// Now is the clock markers use: CLOCK_MONOTONIC in nanoseconds.
func Now() uint64 { return hooks.MonotonicNow() }

// Close releases the pipes; a pipe client becomes inactive (a valgrind
// client holds nothing and stays usable).
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closePipes()
}

func (c *Client) closePipes() error {
	var errs []error
	if c.ctl != nil {
		errs = append(errs, c.ctl.Close())
		c.ctl = nil
	}
	if c.ack != nil {
		errs = append(errs, c.ack.Close())
		c.ack = nil
	}
	return errors.Join(errs...)
}
