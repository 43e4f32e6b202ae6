package hooks

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// unhex turns "13000000 00000000" into bytes; spaces and '|' are layout only.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.NewReplacer(" ", "", "|", "", "\n", "", "\t", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex in test table: %v", err)
	}
	return b
}

// frames are written by hand from docs/protocol.md: u32 LE payload length, u32 LE
// variant index, then fields in declaration order (i32/u32 LE, u64 LE, strings
// as u64 LE length + bytes, nested enums as u32 LE variant + payload).
var frameTests = []struct {
	name  string
	cmd   Command
	frame string
}{
	{
		// payload = variant 0 (4) + pid 42 (4) + len 3 (8) + "foo" (3) = 19 = 0x13
		name:  "CurrentBenchmark",
		cmd:   CurrentBenchmark{Pid: 42, URI: "foo"},
		frame: "13000000 | 00000000 | 2a000000 | 0300000000000000 | 666f6f",
	},
	{
		// pid -1 is 0xffffffff in two's complement; empty string = len 0 only;
		// payload = 4 + 4 + 8 = 16 = 0x10
		name:  "CurrentBenchmark negative pid, empty uri",
		cmd:   CurrentBenchmark{Pid: -1, URI: ""},
		frame: "10000000 | 00000000 | ffffffff | 0000000000000000",
	},
	{
		// "é" is U+00E9 = c3 a9 in UTF-8, so the length is 2 bytes, not 1 rune;
		// "b::é" = 62 3a 3a c3 a9 (5 bytes); payload = 4 + 4 + 8 + 5 = 21 = 0x15;
		// pid 1000 = 0x3e8
		name:  "CurrentBenchmark UTF-8 uri",
		cmd:   CurrentBenchmark{Pid: 1000, URI: "b::é"},
		frame: "15000000 | 00000000 | e8030000 | 0500000000000000 | 623a3ac3a9",
	},
	{
		// unit variants: payload is the variant alone, 4 bytes
		name:  "StartBenchmark",
		cmd:   StartBenchmark{},
		frame: "04000000 | 01000000",
	},
	{name: "StopBenchmark", cmd: StopBenchmark{}, frame: "04000000 | 02000000"},
	{name: "Ack", cmd: Ack{}, frame: "04000000 | 03000000"},
	{name: "PingPerf", cmd: PingPerf{}, frame: "04000000 | 04000000"},
	{
		// "zig" = 7a 69 67; "0.10.0" = 30 2e 31 30 2e 30;
		// payload = 4 + (8+3) + (8+6) = 29 = 0x1d
		name:  "SetIntegration",
		cmd:   SetIntegration{Name: "zig", Version: "0.10.0"},
		frame: "1d000000 | 05000000 | 0300000000000000 | 7a6967 | 0600000000000000 | 302e31302e30",
	},
	{name: "Err", cmd: Err{}, frame: "04000000 | 06000000"},
	{
		// pid 7; marker variant 0 (SampleStart); ns 1;
		// payload = 4 + 4 + 4 + 8 = 20 = 0x14
		name:  "AddMarker SampleStart",
		cmd:   AddMarker{Pid: 7, Marker: Marker{Kind: SampleStart, Ns: 1}},
		frame: "14000000 | 07000000 | 07000000 | 00000000 | 0100000000000000",
	},
	{
		// ns 0x0102030405060708 little-endian is 08 07 06 05 04 03 02 01
		name:  "AddMarker BenchmarkEnd",
		cmd:   AddMarker{Pid: 1000, Marker: Marker{Kind: BenchmarkEnd, Ns: 0x0102030405060708}},
		frame: "14000000 | 07000000 | e8030000 | 03000000 | 0807060504030201",
	},
	{name: "AddMarker SampleEnd", cmd: AddMarker{Pid: 1, Marker: Marker{Kind: SampleEnd, Ns: 255}},
		frame: "14000000 | 07000000 | 01000000 | 01000000 | ff00000000000000"},
	{name: "AddMarker BenchmarkStart", cmd: AddMarker{Pid: 1, Marker: Marker{Kind: BenchmarkStart, Ns: 256}},
		frame: "14000000 | 07000000 | 01000000 | 02000000 | 0001000000000000"},
	{
		// payload = 4 + u64 = 12 = 0x0c
		name:  "SetVersion 2",
		cmd:   SetVersion(2),
		frame: "0c000000 | 08000000 | 0200000000000000",
	},
	{name: "SetVersion 1", cmd: SetVersion(1), frame: "0c000000 | 08000000 | 0100000000000000"},
	{name: "GetIntegrationMode", cmd: GetIntegrationMode{}, frame: "04000000 | 09000000"},
	{
		// the mode is a unit enum: bincode writes its u32 variant; payload 8
		name:  "IntegrationModeResponse walltime",
		cmd:   IntegrationModeResponse{Mode: ModeWalltime},
		frame: "08000000 | 0a000000 | 00000000",
	},
	{name: "IntegrationModeResponse simulation", cmd: IntegrationModeResponse{Mode: ModeSimulation},
		frame: "08000000 | 0a000000 | 01000000"},
	{name: "IntegrationModeResponse memory", cmd: IntegrationModeResponse{Mode: ModeMemory},
		frame: "08000000 | 0a000000 | 02000000"},
}

func TestFrames(t *testing.T) {
	for _, tt := range frameTests {
		t.Run(tt.name, func(t *testing.T) {
			want := unhex(t, tt.frame)
			got := Encode(tt.cmd)
			if !bytes.Equal(got, want) || !bytes.Equal(AppendFrame([]byte{1}, tt.cmd)[1:], want) {
				t.Fatalf("AppendFrame(%#v)\n got % x\nwant % x", tt.cmd, got, want)
			}
			payload, n, err := SplitFrame(append(want, 0xee)) // a byte of the next frame
			if err != nil || n != len(want) {
				t.Fatalf("SplitFrame = n %d, err %v; want n %d", n, err, len(want))
			}
			back, err := Decode(payload)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(back, tt.cmd) {
				t.Fatalf("Decode = %#v, want %#v", back, tt.cmd)
			}
			back, err = ReadFrame(bytes.NewReader(want))
			if err != nil || !reflect.DeepEqual(back, tt.cmd) {
				t.Fatalf("ReadFrame = %#v, %v", back, err)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		err     error
		offset  int
		field   string
	}{
		{"empty", "", ErrTruncated, 0, "variant"},
		{"short variant", "0100", ErrTruncated, 0, "variant"},
		{"unknown command 11", "0b000000", ErrUnknownVariant, 0, "variant"},
		{"unknown command huge", "ffffffff", ErrUnknownVariant, 0, "variant"},
		{"trailing byte after unit variant", "01000000 00", ErrTrailingBytes, 4, "end"},
		{"pid truncated", "00000000 2a00", ErrTruncated, 4, "pid"},
		// string length 5 at offset 8..16, only 3 bytes follow: fails at 16
		{"uri longer than payload", "00000000 2a000000 0500000000000000 666f6f", ErrTruncated, 16, "uri"},
		// length u64 max must not overflow an int
		{"uri length u64 max", "00000000 2a000000 ffffffffffffffff 666f6f", ErrTruncated, 16, "uri"},
		{"uri not UTF-8", "00000000 00000000 0100000000000000 ff", ErrInvalidUTF8, 8, "uri"},
		{"version string missing", "05000000 0100000000000000 61", ErrTruncated, 13, "version length"},
		{"marker variant 4", "07000000 00000000 04000000 0000000000000000", ErrUnknownVariant, 8, "marker variant"},
		{"marker ns truncated", "07000000 00000000 00000000 0000", ErrTruncated, 12, "marker timestamp"},
		{"set version truncated", "08000000 0200", ErrTruncated, 4, "version"},
		{"set version trailing", "08000000 0200000000000000 00", ErrTrailingBytes, 12, "end"},
		{"mode 3", "0a000000 03000000", ErrUnknownVariant, 4, "mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Decode(unhex(t, tt.payload))
			if err == nil {
				t.Fatalf("Decode = %#v, want error", c)
			}
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err %T is not *DecodeError", err)
			}
			if de.Offset != tt.offset || de.Field != tt.field {
				t.Fatalf("error at offset %d field %q, want %d %q (%v)", de.Offset, de.Field, tt.offset, tt.field, err)
			}
		})
	}
}

func TestSplitFrame(t *testing.T) {
	full := unhex(t, "0c000000 08000000 0200000000000000")
	for i := 0; i < len(full); i++ {
		p, n, err := SplitFrame(full[:i])
		if p != nil || n != 0 || err != nil {
			t.Fatalf("SplitFrame(%d bytes) = %v %d %v, want need-more", i, p, n, err)
		}
	}
	_, _, err := SplitFrame(unhex(t, "01000100")) // 65537 > MaxMessageSize
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("err = %v, want ErrFrameTooLarge", err)
	}
	if _, err := ReadFrame(bytes.NewReader(unhex(t, "01000100"))); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("ReadFrame err = %v, want ErrFrameTooLarge", err)
	}
	if _, err := ReadFrame(bytes.NewReader(full[:6])); err != io.ErrUnexpectedEOF {
		t.Fatalf("ReadFrame short = %v, want io.ErrUnexpectedEOF", err)
	}
	if _, err := ReadFrame(bytes.NewReader(nil)); err != io.EOF {
		t.Fatalf("ReadFrame empty = %v, want io.EOF", err)
	}
}

// FuzzDecode: Decode never panics, and whatever it accepts re-encodes to
// exactly the same bytes (the encoding is canonical, so a successful decode
// accounted for every byte).
func FuzzDecode(f *testing.F) {
	for _, tt := range frameTests {
		f.Add(AppendPayload(nil, tt.cmd))
	}
	f.Add([]byte{})
	f.Add([]byte{0x0b, 0, 0, 0})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, p []byte) {
		c, err := Decode(p)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not a *DecodeError: %v", err, err)
			}
			if de.Offset < 0 || de.Offset > len(p) {
				t.Fatalf("offset %d outside payload of %d bytes", de.Offset, len(p))
			}
			return
		}
		if again := AppendPayload(nil, c); !bytes.Equal(again, p) {
			t.Fatalf("re-encoding %#v gave % x, input was % x", c, again, p)
		}
	})
}

// FuzzSplitFrame: framing never panics and never claims more bytes than given.
func FuzzSplitFrame(f *testing.F) {
	for _, tt := range frameTests {
		f.Add(AppendFrame(nil, tt.cmd))
	}
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, n, err := SplitFrame(b)
		if err != nil {
			return
		}
		if n > len(b) || (n > 0 && len(p) != n-4) {
			t.Fatalf("SplitFrame claimed %d of %d bytes (payload %d)", n, len(b), len(p))
		}
	})
}
