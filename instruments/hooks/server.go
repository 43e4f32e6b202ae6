package hooks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Fixed names of CodSpeed's FIFOs (crates/runner-shared/src/fifo.rs,
// instrument-hooks src/shared.zig). Real integrations only ever look in
// DefaultDir.
const (
	DefaultDir  = "/tmp"
	CtlFIFOName = "runner.ctl.fifo" // integration -> runner
	AckFIFOName = "runner.ack.fifo" // runner -> integration
	// LockName is the lock file that serialises runs sharing a directory.
	LockName = "runner.fifo.lock"
	// DirEnv moves the FIFOs for this project's Go client only (package
	// hooks/client). CodSpeed's integrations ignore it; a runner that
	// serves them must use DefaultDir.
	DirEnv = "CODSPEED_HOOKS_DIR"
)

// ErrBusy is wrapped by NewServer's error when another run holds the FIFO
// directory's lock.
var ErrBusy = errors.New("another codspeed run is using the instrument-hooks FIFOs")

// Handler receives the events of the measured program as they arrive, before
// the integration gets its Ack: when OnStart returns, the integration has not
// yet started measuring, so profiling switched on in OnStart covers the whole
// region. A non-nil error makes the runner answer Err and records the error
// in the Session. Calls come from the Serve goroutine, one at a time.
type Handler interface {
	OnStart(ts uint64) error
	OnStop(ts uint64) error
	OnBenchmark(pid int32, uri string) error
	OnMarker(pid int32, m Marker) error
	OnIntegration(name, version string) error
}

// NopHandler ignores every event; embed it to implement only some callbacks.
type NopHandler struct{}

func (NopHandler) OnStart(uint64) error               { return nil }
func (NopHandler) OnStop(uint64) error                { return nil }
func (NopHandler) OnBenchmark(int32, string) error    { return nil }
func (NopHandler) OnMarker(int32, Marker) error       { return nil }
func (NopHandler) OnIntegration(string, string) error { return nil }

// Option configures NewServer.
type Option func(*config)

type config struct {
	mode     IntegrationMode
	lockWait time.Duration
	notice   func(string)
	uid, gid int
}

// WithMode sets the instrument announced to integrations (default
// ModeWalltime).
func WithMode(m IntegrationMode) Option { return func(c *config) { c.mode = m } }

// WithLockWait makes NewServer wait up to d for a concurrent run to release
// the directory instead of failing at once with ErrBusy.
func WithLockWait(d time.Duration) Option { return func(c *config) { c.lockWait = d } }

// WaitForever, given to WithLockWait, waits until the other run ends or the
// context given to NewServerContext is done.
const WaitForever time.Duration = 1<<63 - 1

// WithWaitNotice calls notice once, with a message naming the other run,
// when NewServer has to wait for the lock.
func WithWaitNotice(notice func(msg string)) Option { return func(c *config) { c.notice = notice } }

// WithOwner gives the FIFOs to uid:gid, for a benchmark that runs as another
// user than the runner (started through sudo). The mode stays 0700.
func WithOwner(uid, gid int) Option { return func(c *config) { c.uid, c.gid = uid, gid } }

// Server is the runner end of the pipes for one run. Create it before
// starting the benchmark (the FIFOs must exist when the integration
// initialises), run Serve until the benchmark has exited, then read Session
// and Close.
type Server struct {
	dir      string
	h        Handler
	cfg      config
	lock     *os.File
	ctl, ack *os.File
	served   atomic.Bool

	mu  sync.Mutex
	rec recorder
}

// NewServer takes the directory's lock, (re)creates the two FIFOs in dir with
// mode 0700 and opens them. dir is normally DefaultDir; h may be nil. The
// caller owns the Server and must Close it.
func NewServer(dir string, h Handler, opts ...Option) (*Server, error) {
	return NewServerContext(context.Background(), dir, h, opts...)
}

// NewServerContext is NewServer with a context that ends a wait for the
// lock (WithLockWait).
func NewServerContext(ctx context.Context, dir string, h Handler, opts ...Option) (*Server, error) {
	cfg := config{mode: ModeWalltime, uid: -1, gid: -1}
	for _, o := range opts {
		o(&cfg)
	}
	if h == nil {
		h = NopHandler{}
	}
	s := &Server{dir: dir, h: h, cfg: cfg}
	lock, err := acquireLock(ctx, filepath.Join(dir, LockName), cfg)
	if err != nil {
		return nil, err
	}
	s.lock = lock
	if err := s.open(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// CtlPath and AckPath are the FIFOs' paths.
func (s *Server) CtlPath() string { return filepath.Join(s.dir, CtlFIFOName) }
func (s *Server) AckPath() string { return filepath.Join(s.dir, AckFIFOName) }

// Env is what to add to the benchmark's environment so that this project's
// Go client finds the FIFOs when dir is not DefaultDir.
func (s *Server) Env() []string { return []string{DirEnv + "=" + s.dir} }

func (s *Server) open() error {
	// O_RDWR: opening a FIFO read-only blocks until a writer appears, and
	// write-only until a reader does. Holding both ends ourselves means
	// neither open nor a later read ever waits for the benchmark, and the
	// pipe never reports EOF or EPIPE when an integration closes it.
	// O_NONBLOCK lets the runtime poller park reads, so deadlines and
	// cancellation work.
	var err error
	if s.ctl, err = makeFIFO(s.CtlPath(), s.cfg.uid, s.cfg.gid); err != nil {
		return err
	}
	if s.ack, err = makeFIFO(s.AckPath(), s.cfg.uid, s.cfg.gid); err != nil {
		return err
	}
	return nil
}

// makeFIFO (re)creates the FIFO at path and opens it. Mode and owner are set
// on the open descriptor, after checking it is the FIFO just made: the
// directory is normally /tmp, where anyone may plant a symlink or a file of
// that name between two system calls.
func makeFIFO(path string, uid, gid int) (*os.File, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale FIFO %s: %w", path, err)
	}
	if err := unix.Mkfifo(path, 0o700); err != nil {
		return nil, fmt.Errorf("create FIFO %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NONBLOCK|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open FIFO %s: %w", path, err)
	}
	fail := func(err error) (*os.File, error) {
		f.Close()
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fail(fmt.Errorf("stat FIFO %s: %w", path, err))
	}
	if st.Mode&unix.S_IFMT != unix.S_IFIFO || int(st.Uid) != os.Geteuid() {
		return fail(fmt.Errorf("FIFO %s was replaced after it was created (now mode %o, owner uid %d): refusing to use it", path, st.Mode, st.Uid))
	}
	// mkfifo's mode passes through the umask; set it exactly.
	if err := f.Chmod(0o700); err != nil {
		return fail(fmt.Errorf("chmod FIFO %s: %w", path, err))
	}
	if uid >= 0 || gid >= 0 {
		if err := f.Chown(uid, gid); err != nil {
			return fail(fmt.Errorf("give FIFO %s to %d:%d: %w", path, uid, gid, err))
		}
	}
	if err := f.SetDeadline(time.Time{}); err != nil {
		return fail(fmt.Errorf("FIFO %s is not pollable: %w", path, err))
	}
	return f, nil
}

// ErrUnsafeLock is wrapped by NewServer's error when the lock file's path
// holds something a run must not open: a symlink, a hard link to another
// file, or anything but a regular file.
var ErrUnsafeLock = errors.New("unsafe instrument-hooks lock file")

// openLock opens (creating if needed) the lock file without following a
// symlink, and checks that it is a regular file with one link. The file is
// created 0644, readable by all: a run of another user must be able to
// open it to wait for this one (flock needs an open descriptor, and a run
// that could not wait would use the same fixed FIFOs at the same time); it
// holds nothing but a pid. writable says whether the caller may record its
// pid there: only in a file it owns.
func openLock(path string) (f *os.File, writable bool, err error) {
	const flags = syscall.O_NOFOLLOW | syscall.O_CLOEXEC
	f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|flags, 0o644)
	if errors.Is(err, os.ErrPermission) {
		f, err = os.OpenFile(path, os.O_RDONLY|flags, 0)
	}
	if errors.Is(err, syscall.ELOOP) {
		return nil, false, fmt.Errorf("%w: %s is a symlink; remove it (a run never follows a link there)", ErrUnsafeLock, path)
	}
	if err != nil {
		return nil, false, fmt.Errorf("open lock file %s: %w (if another user's run left it behind, remove it)", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("stat lock file %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink != 1 {
		f.Close()
		return nil, false, fmt.Errorf("%w: %s is not a plain file of its own (mode %o, %d links); remove it", ErrUnsafeLock, path, st.Mode, st.Nlink)
	}
	return f, int(st.Uid) == os.Geteuid(), nil
}

func acquireLock(ctx context.Context, path string, cfg config) (*os.File, error) {
	f, writable, err := openLock(path)
	if err != nil {
		return nil, err
	}
	var deadline time.Time
	if cfg.lockWait < WaitForever {
		deadline = time.Now().Add(cfg.lockWait)
	}
	noticed := false
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		holder := lockHolder(f)
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			f.Close()
			return nil, fmt.Errorf("%w: %s holds %s; wait for it to finish (runs sharing %s cannot overlap, "+
				"because CodSpeed integrations use fixed FIFO paths)", ErrBusy, holder, path, filepath.Dir(path))
		}
		if !noticed && cfg.notice != nil {
			noticed = true
			cfg.notice(fmt.Sprintf("waiting for another codspeed run (%s) to finish with the instrument-hooks pipes in %s: "+
				"CodSpeed integrations use fixed FIFO paths, so two runs on one host take turns (lock %s)", holder, filepath.Dir(path), path))
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for %s (held by %s): %w", path, holder, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if writable {
		if err := f.Truncate(0); err == nil {
			f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		}
	}
	return f, nil
}

// lockHolder names the process that recorded its pid in the lock file.
func lockHolder(f *os.File) string {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n]))); err == nil {
		return "pid " + strconv.Itoa(pid)
	}
	return "another process"
}

// longAgo is a deadline already passed: setting it wakes a parked read.
var longAgo = time.Unix(1, 0)

// Serve answers the integration until ctx is done, then returns nil. The
// runner cancels ctx when the benchmark process has exited: Serve then
// processes the complete messages already in the pipe (nothing is lost to
// the race between an integration's last message and its exit) and returns
// without waiting for anything. A non-nil error means the pipes themselves
// failed; protocol problems are recorded in the Session instead. Serve may
// be called once.
func (s *Server) Serve(ctx context.Context) error {
	if !s.served.CompareAndSwap(false, true) {
		return errors.New("hooks: Serve called twice")
	}
	woken := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		s.ctl.SetReadDeadline(longAgo)
		s.ack.SetWriteDeadline(longAgo)
		close(woken)
	})
	defer stop()

	var pending []byte
	chunk := make([]byte, 4096)
	for {
		n, err := s.ctl.Read(chunk)
		pending = s.process(append(pending, chunk[:n]...), false)
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil {
			break
		}
		return fmt.Errorf("read %s: %w", s.CtlPath(), err)
	}

	// Drain what is already buffered with non-blocking reads.
	<-woken
	s.ctl.SetReadDeadline(time.Time{})
	s.ack.SetWriteDeadline(time.Time{})
	if rc, err := s.ctl.SyscallConn(); err == nil {
		for {
			var n int
			var rerr error
			rc.Read(func(fd uintptr) bool {
				n, rerr = unix.Read(int(fd), chunk)
				return true // never park: the benchmark is gone
			})
			if n <= 0 || rerr != nil {
				break
			}
			pending = s.process(append(pending, chunk[:n]...), true)
		}
	}
	s.mu.Lock()
	if len(pending) > 0 {
		s.rec.s.Errors = append(s.rec.s.Errors, fmt.Errorf("%s: %d bytes of an incomplete message were left when the benchmark exited", s.CtlPath(), len(pending)))
	}
	s.rec.finish()
	s.mu.Unlock()
	return nil
}

// process handles every complete frame at the start of buf and returns the
// rest. draining selects non-blocking acks (nobody may be reading them).
func (s *Server) process(buf []byte, draining bool) []byte {
	for {
		payload, n, err := SplitFrame(buf)
		if err != nil {
			// The length prefix is garbage, so frame boundaries are lost:
			// drop what we have and answer Err once.
			s.recordError(fmt.Errorf("%s: %w", s.CtlPath(), err))
			s.reply(Err{}, draining)
			return buf[:0]
		}
		if n == 0 {
			if len(buf) == 0 {
				return buf[:0]
			}
			return buf
		}
		s.reply(s.handle(payload), draining)
		buf = buf[n:]
	}
}

func (s *Server) recordError(err error) {
	s.mu.Lock()
	s.rec.s.Errors = append(s.rec.s.Errors, err)
	s.mu.Unlock()
}

func (s *Server) warn(msg string) {
	s.mu.Lock()
	s.rec.s.Warnings = append(s.rec.s.Warnings, msg)
	s.mu.Unlock()
}

// handle decodes and executes one command and returns the answer.
func (s *Server) handle(payload []byte) Command {
	cmd, err := Decode(payload)
	if err != nil {
		s.recordError(fmt.Errorf("%s: %w", s.CtlPath(), err))
		return Err{}
	}
	ts := MonotonicNow()
	fail := func(what string, err error) Command {
		s.recordError(fmt.Errorf("%s: %w", what, err))
		return Err{}
	}
	switch c := cmd.(type) {
	case SetVersion:
		v := uint64(c)
		min := MinProtocolVersion
		if s.cfg.mode == ModeMemory {
			min = 2 // memory mode needs GetIntegrationMode to be detected
		}
		if v < min || v > CurrentProtocolVersion {
			s.recordError(&VersionError{Got: v, Min: min, Max: CurrentProtocolVersion, Mode: s.cfg.mode})
			return Err{}
		}
		s.mu.Lock()
		s.rec.s.ProtocolVersion = v
		s.mu.Unlock()
		return Ack{}
	case GetIntegrationMode:
		return IntegrationModeResponse{Mode: s.cfg.mode}
	case PingPerf:
		if s.cfg.mode == ModeWalltime {
			return Ack{}
		}
		return Err{}
	case StartBenchmark:
		if err := s.h.OnStart(ts); err != nil {
			return fail("start of measured region", err)
		}
		s.mu.Lock()
		s.rec.start(ts)
		s.mu.Unlock()
		return Ack{}
	case StopBenchmark:
		if err := s.h.OnStop(ts); err != nil {
			return fail("end of measured region", err)
		}
		s.mu.Lock()
		s.rec.stop(ts)
		s.mu.Unlock()
		return Ack{}
	case CurrentBenchmark:
		s.mu.Lock()
		s.rec.benchmark(c.Pid, c.URI, ts)
		s.mu.Unlock()
		if err := s.h.OnBenchmark(c.Pid, c.URI); err != nil {
			return fail("benchmark "+c.URI, err)
		}
		return Ack{}
	case AddMarker:
		s.mu.Lock()
		s.rec.marker(c.Pid, c.Marker, ts)
		s.mu.Unlock()
		if err := s.h.OnMarker(c.Pid, c.Marker); err != nil {
			return fail("marker", err)
		}
		return Ack{}
	case SetIntegration:
		s.mu.Lock()
		s.rec.s.Integration = &Integration{Name: c.Name, Version: c.Version}
		s.mu.Unlock()
		if err := s.h.OnIntegration(c.Name, c.Version); err != nil {
			return fail("integration "+c.Name, err)
		}
		return Ack{}
	default:
		// Ack, Err and IntegrationModeResponse travel runner -> integration.
		s.warn(fmt.Sprintf("unexpected %T from the integration; answered Err", cmd))
		return Err{}
	}
}

func (s *Server) reply(c Command, draining bool) {
	frame := AppendFrame(nil, c)
	if !draining {
		if _, err := s.ack.Write(frame); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			s.recordError(fmt.Errorf("answer on %s: %w", s.AckPath(), err))
		}
		return
	}
	if rc, err := s.ack.SyscallConn(); err == nil {
		rc.Write(func(fd uintptr) bool {
			unix.Write(int(fd), frame) // best effort: the reader may be gone
			return true
		})
	}
}

// Session returns a copy of what has been recorded; after Serve returned it
// is complete. Safe to call concurrently with Serve.
func (s *Server) Session() Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.copySession()
}

// Close closes and removes the FIFOs and releases the lock. Call it after
// Serve has returned (cancel Serve's context first).
func (s *Server) Close() error {
	var errs []error
	for _, f := range []*os.File{s.ctl, s.ack} {
		if f != nil {
			f.Close()
		}
	}
	if s.ctl != nil || s.ack != nil {
		for _, p := range []string{s.CtlPath(), s.AckPath()} {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	s.ctl, s.ack = nil, nil
	if s.lock != nil {
		// The lock file stays: removing it would let a waiter lock an
		// unlinked inode while a newcomer locks a fresh one.
		unix.Flock(int(s.lock.Fd()), unix.LOCK_UN)
		errs = append(errs, s.lock.Close())
		s.lock = nil
	}
	return errors.Join(errs...)
}
