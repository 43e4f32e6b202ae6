package perf

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// small is a hand-made recording with one record of each kind.
func small() *Recording {
	return &Recording{Event: EventCPUClock, Unwinding: FramePointer, Frequency: 997, Lost: 3, Records: []Record{
		{Kind: KindComm, Pid: 100, Time: 1000, Name: "primes", Exec: true},
		{Kind: KindMmap, Pid: 100, Time: 1010, Start: 0x555555554000, Len: 0x1000, PgOff: 0x1000, Name: "/usr/bin/primes"},
		{Kind: KindBenchStart, Time: 1020, Name: "a.c::count"},
		{Kind: KindSample, Pid: 100, Tid: 100, Time: 2000, Period: 1003000, Stack: []uint64{0x555555554123, 0x555555554456, 0x7ffff7de0000}},
		{Kind: KindBenchStop, Time: 2500},
		{Kind: KindFork, Pid: 101, Ppid: 100, Time: 2600},
		{Kind: KindExit, Pid: 101, Time: 2700},
	}}
}

func TestRawGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := small().WriteRaw(&buf); err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/small.cspf"
	if *update {
		os.WriteFile(golden, buf.Bytes(), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("encoding changed (go test -update to accept):\n got %x\nwant %x", buf.Bytes(), want)
	}
	back, err := ReadRaw(bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, small()) {
		t.Fatalf("read back %+v", back)
	}
}

func TestRawErrors(t *testing.T) {
	var buf bytes.Buffer
	small().WriteRaw(&buf)
	good := buf.Bytes()
	for _, tc := range []struct {
		name string
		in   []byte
		off  int64
	}{
		{"not ours", []byte("PERFILE2...."), 0},
		{"truncated", good[:len(good)-3], -1},
		{"unknown kind", append(append([]byte{}, good...), 0x42), int64(len(good))},
	} {
		_, err := ReadRaw(bytes.NewReader(tc.in))
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Errorf("%s: %v is not a *FormatError", tc.name, err)
			continue
		}
		if tc.off >= 0 && fe.Offset != tc.off {
			t.Errorf("%s: offset %d, want %d (%v)", tc.name, fe.Offset, tc.off, err)
		}
	}
}

// A real recording survives the raw file, and is smaller than perf.data.
func TestRawRoundTripOfRealSamples(t *testing.T) {
	c := probeOrSkip(t)
	bin := buildPrimes(t, "primes", "-O2", "-fno-inline", "-fno-omit-frame-pointer")
	rec := record(t, Config{Event: c.Event}, []string{bin, "2000000", "5"})
	var buf bytes.Buffer
	if err := rec.WriteRaw(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := ReadRaw(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	samples := 0
	for i, r := range rec.Records {
		if r.Kind != KindSample {
			r.Tid = 0 // the raw file keeps thread IDs of samples only
		}
		if r.Stack == nil {
			r.Stack = []uint64{}
		}
		if back.Records[i].Stack == nil {
			back.Records[i].Stack = []uint64{}
		}
		if !reflect.DeepEqual(back.Records[i], r) {
			t.Fatalf("record %d: read %+v, wrote %+v", i, back.Records[i], r)
		}
		if r.Kind == KindSample {
			samples++
		}
	}
	perSample := float64(buf.Len()) / float64(samples)
	t.Logf("%d records, %d samples, %d bytes: %.1f bytes a sample", len(rec.Records), samples, buf.Len(), perSample)
	if perSample > 80 {
		t.Errorf("%.0f bytes a sample: no smaller than perf.data's ~80", perSample)
	}
}

func FuzzReadRaw(f *testing.F) {
	var buf bytes.Buffer
	small().WriteRaw(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte(rawMagic))
	f.Add(append([]byte(rawMagic), 0x09, 'c', 'p', 'u', '-', 'c', 'l', 'o', 'c', 'k', 2, 'f', 'p', 0, 0, 1, 1, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f))
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := ReadRaw(bytes.NewReader(data))
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Offset < 0 || fe.Offset > int64(len(data)) {
				t.Fatalf("error %v is not a *FormatError within the input", err)
			}
			return
		}
		var out bytes.Buffer
		if err := rec.WriteRaw(&out); err != nil {
			t.Fatal(err)
		}
		again, err := ReadRaw(&out)
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if !reflect.DeepEqual(again, rec) {
			t.Fatalf("round trip changed the recording")
		}
	})
}
