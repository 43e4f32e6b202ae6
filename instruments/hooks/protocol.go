package hooks

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Protocol versions. Version 2 added GetIntegrationMode and
// IntegrationModeResponse; version 1 integrations probe the runner with the
// deprecated PingPerf instead.
const (
	MinProtocolVersion     uint64 = 1
	CurrentProtocolVersion uint64 = 2
)

// MaxMessageSize bounds the payload length a reader accepts from the u32
// length prefix. Real messages are a few hundred bytes (the longest is a
// benchmark URI); the bound keeps a corrupt prefix from making a reader
// allocate gigabytes while leaving room for very long URIs.
const MaxMessageSize = 64 << 10

// Command is one message of the instrument-hooks pipe protocol. The concrete
// types below are the only implementations; their order is the wire order of
// the bincode enum (docs/protocol.md), so Variant() is the u32 written first.
type Command interface {
	Variant() uint32
	appendPayload(dst []byte) []byte
}

// Variant indexes of the Command enum, as sent on the wire.
const (
	VariantCurrentBenchmark        uint32 = 0
	VariantStartBenchmark          uint32 = 1
	VariantStopBenchmark           uint32 = 2
	VariantAck                     uint32 = 3
	VariantPingPerf                uint32 = 4
	VariantSetIntegration          uint32 = 5
	VariantErr                     uint32 = 6
	VariantAddMarker               uint32 = 7
	VariantSetVersion              uint32 = 8
	VariantGetIntegrationMode      uint32 = 9
	VariantIntegrationModeResponse uint32 = 10
)

// CurrentBenchmark names the benchmark that was just executed by process Pid
// (instrument-hooks calls it ExecutedBenchmark: it is sent after the
// benchmark's Start/Stop pair, not before).
type CurrentBenchmark struct {
	Pid int32
	URI string
}

// StartBenchmark marks the start of a measured region.
type StartBenchmark struct{}

// StopBenchmark marks the end of a measured region.
type StopBenchmark struct{}

// Ack is the runner's answer to a command it accepted.
type Ack struct{}

// PingPerf asks whether the runner profiles with perf (deprecated, protocol
// version 1; answered Ack in walltime mode, Err otherwise).
type PingPerf struct{}

// SetIntegration names the integration (pytest-codspeed, codspeed-rust, ...)
// and its version.
type SetIntegration struct {
	Name    string
	Version string
}

// Err is the runner's answer to a command it refused or did not understand.
type Err struct{}

// AddMarker records a timestamp the integration took itself.
type AddMarker struct {
	Pid    int32
	Marker Marker
}

// SetVersion announces the protocol version the integration speaks.
type SetVersion uint64

// GetIntegrationMode asks which instrument the runner is running (protocol
// version 2); the answer is IntegrationModeResponse, not Ack.
type GetIntegrationMode struct{}

// IntegrationModeResponse answers GetIntegrationMode.
type IntegrationModeResponse struct {
	Mode IntegrationMode
}

// IntegrationMode is the instrument a runner announces to integrations.
type IntegrationMode uint32

// Integration modes, by wire index.
const (
	ModeWalltime   IntegrationMode = 0 // perf-based walltime
	ModeSimulation IntegrationMode = 1 // valgrind/callgrind
	ModeMemory     IntegrationMode = 2 // CodSpeed calls it "analysis"
)

func (m IntegrationMode) String() string {
	switch m {
	case ModeWalltime:
		return "walltime"
	case ModeSimulation:
		return "simulation"
	case ModeMemory:
		return "memory"
	}
	return fmt.Sprintf("IntegrationMode(%d)", uint32(m))
}

// MarkerKind says what a marker's timestamp marks.
type MarkerKind uint32

// Marker kinds, by wire index. The runner 5.x calls the last two
// RoundStart/RoundEnd; the bytes are the same.
const (
	SampleStart    MarkerKind = 0
	SampleEnd      MarkerKind = 1
	BenchmarkStart MarkerKind = 2
	BenchmarkEnd   MarkerKind = 3
)

func (k MarkerKind) String() string {
	switch k {
	case SampleStart:
		return "SampleStart"
	case SampleEnd:
		return "SampleEnd"
	case BenchmarkStart:
		return "BenchmarkStart"
	case BenchmarkEnd:
		return "BenchmarkEnd"
	}
	return fmt.Sprintf("MarkerKind(%d)", uint32(k))
}

// MarshalText writes the kind's name, so session files read "BenchmarkStart"
// rather than 2.
func (k MarkerKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText reads what MarshalText wrote (and CodSpeed's newer names
// RoundStart and RoundEnd).
func (k *MarkerKind) UnmarshalText(b []byte) error {
	switch string(b) {
	case "SampleStart":
		*k = SampleStart
	case "SampleEnd":
		*k = SampleEnd
	case "BenchmarkStart", "RoundStart":
		*k = BenchmarkStart
	case "BenchmarkEnd", "RoundEnd":
		*k = BenchmarkEnd
	default:
		return fmt.Errorf("unknown marker kind %q", b)
	}
	return nil
}

// Marker is a CLOCK_MONOTONIC timestamp in nanoseconds taken by the
// integration.
type Marker struct {
	Kind MarkerKind
	Ns   uint64
}

func (CurrentBenchmark) Variant() uint32        { return VariantCurrentBenchmark }
func (StartBenchmark) Variant() uint32          { return VariantStartBenchmark }
func (StopBenchmark) Variant() uint32           { return VariantStopBenchmark }
func (Ack) Variant() uint32                     { return VariantAck }
func (PingPerf) Variant() uint32                { return VariantPingPerf }
func (SetIntegration) Variant() uint32          { return VariantSetIntegration }
func (Err) Variant() uint32                     { return VariantErr }
func (AddMarker) Variant() uint32               { return VariantAddMarker }
func (SetVersion) Variant() uint32              { return VariantSetVersion }
func (GetIntegrationMode) Variant() uint32      { return VariantGetIntegrationMode }
func (IntegrationModeResponse) Variant() uint32 { return VariantIntegrationModeResponse }

func (c CurrentBenchmark) appendPayload(b []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(c.Pid))
	return appendString(b, c.URI)
}
func (StartBenchmark) appendPayload(b []byte) []byte { return b }
func (StopBenchmark) appendPayload(b []byte) []byte  { return b }
func (Ack) appendPayload(b []byte) []byte            { return b }
func (PingPerf) appendPayload(b []byte) []byte       { return b }
func (c SetIntegration) appendPayload(b []byte) []byte {
	return appendString(appendString(b, c.Name), c.Version)
}
func (Err) appendPayload(b []byte) []byte { return b }
func (c AddMarker) appendPayload(b []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(c.Pid))
	b = binary.LittleEndian.AppendUint32(b, uint32(c.Marker.Kind))
	return binary.LittleEndian.AppendUint64(b, c.Marker.Ns)
}
func (c SetVersion) appendPayload(b []byte) []byte {
	return binary.LittleEndian.AppendUint64(b, uint64(c))
}
func (GetIntegrationMode) appendPayload(b []byte) []byte { return b }
func (c IntegrationModeResponse) appendPayload(b []byte) []byte {
	return binary.LittleEndian.AppendUint32(b, uint32(c.Mode))
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// AppendPayload appends the bincode-1 encoding of c (variant, then fields)
// to dst, without the length prefix.
func AppendPayload(dst []byte, c Command) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, c.Variant())
	return c.appendPayload(dst)
}

// AppendFrame appends c as it travels through a FIFO: a u32 LE payload
// length, then the payload. Writers should send a frame with a single
// write(2) so that frames of at most PIPE_BUF bytes are never interleaved.
func AppendFrame(dst []byte, c Command) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = AppendPayload(dst, c)
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// Encode returns c as one frame, ready for a single write(2).
func Encode(c Command) []byte { return AppendFrame(nil, c) }

// Errors wrapped by *DecodeError, for errors.Is.
var (
	// ErrTruncated: the input ended inside a field.
	ErrTruncated = errors.New("message truncated")
	// ErrUnknownVariant: a command or enum index this protocol does not know.
	ErrUnknownVariant = errors.New("unknown variant")
	// ErrTrailingBytes: bytes left after a complete command.
	ErrTrailingBytes = errors.New("trailing bytes after command")
	// ErrInvalidUTF8: a string that is not UTF-8 (Rust's String refuses it).
	ErrInvalidUTF8 = errors.New("string is not valid UTF-8")
	// ErrFrameTooLarge: a length prefix above MaxMessageSize.
	ErrFrameTooLarge = errors.New("frame larger than the protocol allows")
)

// DecodeError reports where a payload stopped making sense. Offset is the
// byte offset inside the payload (after the length prefix) of the field that
// failed; Field names it.
type DecodeError struct {
	Offset int
	Field  string
	Err    error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("decode instrument-hooks message: offset %d (%s): %v", e.Offset, e.Field, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

type decoder struct {
	p   []byte
	off int
}

func (d *decoder) fail(field string, err error) error {
	return &DecodeError{Offset: d.off, Field: field, Err: err}
}

func (d *decoder) u32(field string) (uint32, error) {
	if len(d.p)-d.off < 4 {
		return 0, d.fail(field, ErrTruncated)
	}
	v := binary.LittleEndian.Uint32(d.p[d.off:])
	d.off += 4
	return v, nil
}

func (d *decoder) u64(field string) (uint64, error) {
	if len(d.p)-d.off < 8 {
		return 0, d.fail(field, ErrTruncated)
	}
	v := binary.LittleEndian.Uint64(d.p[d.off:])
	d.off += 8
	return v, nil
}

func (d *decoder) str(field string) (string, error) {
	at := d.off
	n, err := d.u64(field + " length")
	if err != nil {
		return "", err
	}
	if n > uint64(len(d.p)-d.off) {
		return "", d.fail(field, ErrTruncated)
	}
	s := d.p[d.off : d.off+int(n)]
	if !utf8.Valid(s) {
		d.off = at
		return "", d.fail(field, ErrInvalidUTF8)
	}
	d.off += int(n)
	return string(s), nil
}

// Decode parses one bincode-1 payload (without its length prefix). The whole
// payload must be one command: trailing bytes are an error, because on a
// length-framed pipe they mean the peer and this decoder disagree about a
// field. Errors are *DecodeError values; Decode never panics.
func Decode(payload []byte) (Command, error) {
	d := &decoder{p: payload}
	v, err := d.u32("variant")
	if err != nil {
		return nil, err
	}
	var c Command
	switch v {
	case VariantCurrentBenchmark:
		pid, err := d.u32("pid")
		if err != nil {
			return nil, err
		}
		uri, err := d.str("uri")
		if err != nil {
			return nil, err
		}
		c = CurrentBenchmark{Pid: int32(pid), URI: uri}
	case VariantStartBenchmark:
		c = StartBenchmark{}
	case VariantStopBenchmark:
		c = StopBenchmark{}
	case VariantAck:
		c = Ack{}
	case VariantPingPerf:
		c = PingPerf{}
	case VariantSetIntegration:
		name, err := d.str("name")
		if err != nil {
			return nil, err
		}
		version, err := d.str("version")
		if err != nil {
			return nil, err
		}
		c = SetIntegration{Name: name, Version: version}
	case VariantErr:
		c = Err{}
	case VariantAddMarker:
		pid, err := d.u32("pid")
		if err != nil {
			return nil, err
		}
		at := d.off
		kind, err := d.u32("marker variant")
		if err != nil {
			return nil, err
		}
		if kind > uint32(BenchmarkEnd) {
			d.off = at
			return nil, d.fail("marker variant", fmt.Errorf("%w: marker %d", ErrUnknownVariant, kind))
		}
		ns, err := d.u64("marker timestamp")
		if err != nil {
			return nil, err
		}
		c = AddMarker{Pid: int32(pid), Marker: Marker{Kind: MarkerKind(kind), Ns: ns}}
	case VariantSetVersion:
		ver, err := d.u64("version")
		if err != nil {
			return nil, err
		}
		c = SetVersion(ver)
	case VariantGetIntegrationMode:
		c = GetIntegrationMode{}
	case VariantIntegrationModeResponse:
		at := d.off
		m, err := d.u32("mode")
		if err != nil {
			return nil, err
		}
		if m > uint32(ModeMemory) {
			d.off = at
			return nil, d.fail("mode", fmt.Errorf("%w: integration mode %d", ErrUnknownVariant, m))
		}
		c = IntegrationModeResponse{Mode: IntegrationMode(m)}
	default:
		d.off = 0
		return nil, d.fail("variant", fmt.Errorf("%w: command %d", ErrUnknownVariant, v))
	}
	if d.off != len(payload) {
		return nil, d.fail("end", fmt.Errorf("%w: %d", ErrTrailingBytes, len(payload)-d.off))
	}
	return c, nil
}

// SplitFrame finds the first complete frame at the start of buf. It returns
// the payload (aliasing buf) and the number of bytes the frame occupies. When
// buf holds only part of a frame it returns n == 0 and a nil error: read more.
// A length prefix above MaxMessageSize is an error wrapping ErrFrameTooLarge.
func SplitFrame(buf []byte) (payload []byte, n int, err error) {
	if len(buf) < 4 {
		return nil, 0, nil
	}
	size := binary.LittleEndian.Uint32(buf)
	if size > MaxMessageSize {
		return nil, 0, &DecodeError{Offset: -4, Field: "length prefix", Err: fmt.Errorf("%w: %d > %d bytes", ErrFrameTooLarge, size, MaxMessageSize)}
	}
	if uint64(len(buf)-4) < uint64(size) {
		return nil, 0, nil
	}
	return buf[4 : 4+size], 4 + int(size), nil
}

// ReadFrame reads one frame from r and decodes it. A stream that ends
// between frames gives io.EOF; inside a frame, io.ErrUnexpectedEOF.
func ReadFrame(r io.Reader) (Command, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	size := binary.LittleEndian.Uint32(hdr[:])
	if size > MaxMessageSize {
		return nil, &DecodeError{Offset: -4, Field: "length prefix", Err: fmt.Errorf("%w: %d > %d bytes", ErrFrameTooLarge, size, MaxMessageSize)}
	}
	p := make([]byte, size)
	if _, err := io.ReadFull(r, p); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return Decode(p)
}
