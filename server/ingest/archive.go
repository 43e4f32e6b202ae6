package ingest

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/codspeed-go/codspeed-go/results"
)

// Limits bound what an archive may expand to.
type Limits struct {
	// MaxExpanded is the most bytes the tar stream and its files may hold
	// once decompressed; beyond it the archive is a decompression bomb.
	MaxExpanded int64
	// MaxEntries is the most entries an archive may have.
	MaxEntries int
	// MaxFile is the most bytes of one results file or kept profile file.
	MaxFile int64
}

// DefaultLimits fit profile folders of thousands of benchmarks with their
// flame graphs.
func DefaultLimits(maxUpload int64) Limits {
	return Limits{MaxExpanded: max(8*maxUpload, 64<<20), MaxEntries: 100000, MaxFile: 64 << 20}
}

// ArchiveError is an archive the server refuses. TooLarge is set when a
// limit was passed (answered 413), otherwise it is malformed (400).
type ArchiveError struct {
	Entry    string
	Msg      string
	TooLarge bool
}

func (e *ArchiveError) Error() string {
	if e.Entry == "" {
		return "archive: " + e.Msg
	}
	return fmt.Sprintf("archive entry %q: %s", clip(e.Entry), e.Msg)
}

// Archive is what the server keeps of an uploaded profile folder.
type Archive struct {
	// Files are the results files (results/*.json), in archive order.
	Files []*results.File
	// Artifacts are the folded-stack files the benchmarks name
	// (Profile.Folded), by their path in the profile folder.
	Artifacts map[string][]byte
	// Entries counts the archive's entries.
	Entries int
	// Callgrind names the callgrind profiles (<pid>.out files whose first
	// line is callgrind's format header): what CodSpeed's own runner
	// uploads in simulation mode, with no results file.
	Callgrind []string
}

// Benchmarks counts the benchmarks of every results file.
func (a *Archive) Benchmarks() int {
	n := 0
	for _, f := range a.Files {
		n += len(f.Benchmarks)
	}
	return n
}

// ReadArchive reads an uploaded profile folder: a tar, gzip-compressed or
// not (the gzip magic decides; declaredGzip only makes a plain tar an
// error). It never writes to disk; still, an entry whose name is absolute
// or climbs out with ".." is refused, as is a link whose target does, and
// any entry type but files, folders and links. Results files must parse.
// The error is an *ArchiveError.
func ReadArchive(r io.Reader, declaredGzip bool, lim Limits) (*Archive, error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(2)
	var stream io.Reader = br
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, &ArchiveError{Msg: "corrupt gzip stream: " + err.Error()}
		}
		zr.Multistream(false)
		stream = zr
	} else if declaredGzip {
		return nil, &ArchiveError{Msg: "profileEncoding is gzip but the archive is not gzip-compressed"}
	}
	counted := &limitedReader{r: stream, left: lim.MaxExpanded}
	tr := tar.NewReader(counted)
	a := &Archive{Artifacts: map[string][]byte{}}
	folded := map[string][]byte{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, streamError(counted, lim, "", err)
		}
		a.Entries++
		if a.Entries > lim.MaxEntries {
			return nil, &ArchiveError{Msg: fmt.Sprintf("more than %d entries", lim.MaxEntries), TooLarge: true}
		}
		name, err := entryName(hdr.Name)
		if err != nil {
			return nil, &ArchiveError{Entry: hdr.Name, Msg: err.Error()}
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeSymlink, tar.TypeLink:
			// Never followed; a hard link must still stay inside.
			if hdr.Typeflag == tar.TypeLink {
				if _, err := entryName(hdr.Linkname); err != nil {
					return nil, &ArchiveError{Entry: hdr.Name, Msg: "hard link target: " + err.Error()}
				}
			}
			continue
		case tar.TypeReg, tar.TypeRegA:
		default:
			return nil, &ArchiveError{Entry: hdr.Name, Msg: fmt.Sprintf("unexpected entry type %q (want files, folders and links)", string(hdr.Typeflag))}
		}
		if hdr.Size < 0 {
			return nil, &ArchiveError{Entry: hdr.Name, Msg: "negative size"}
		}
		isResults := path.Dir(name) == "results" && strings.HasSuffix(name, ".json")
		keep := isResults || strings.HasSuffix(name, ".folded")
		if !keep && strings.HasSuffix(name, ".out") {
			head := make([]byte, 64)
			n, _ := io.ReadFull(tr, head)
			if strings.HasPrefix(string(head[:n]), "# callgrind format") || strings.HasPrefix(string(head[:n]), "version: 1") {
				a.Callgrind = append(a.Callgrind, name)
			}
		}
		if !keep || hdr.Size > lim.MaxFile {
			if isResults {
				return nil, &ArchiveError{Entry: hdr.Name, Msg: fmt.Sprintf("results file of %d bytes, more than %d", hdr.Size, lim.MaxFile), TooLarge: true}
			}
			if _, err := io.Copy(io.Discard, tr); err != nil {
				return nil, streamError(counted, lim, hdr.Name, err)
			}
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, streamError(counted, lim, hdr.Name, err)
		}
		if !isResults {
			folded[name] = data
			continue
		}
		var f results.File
		if err := json.Unmarshal(data, &f); err != nil {
			return nil, &ArchiveError{Entry: hdr.Name, Msg: "not a results file: " + jsonErrorText(data, err)}
		}
		if f.Instrument.Type == "" {
			return nil, &ArchiveError{Entry: hdr.Name, Msg: "not a results file: no instrument.type"}
		}
		for i, b := range f.Benchmarks {
			if b.Name == "" && b.URI == "" {
				return nil, &ArchiveError{Entry: hdr.Name, Msg: fmt.Sprintf("benchmarks[%d] has neither name nor uri", i)}
			}
		}
		a.Files = append(a.Files, &f)
	}
	// The tar end marker is read; what follows it in the stream (padding)
	// still counts towards the limit and must not be corrupt.
	if _, err := io.Copy(io.Discard, counted); err != nil {
		return nil, streamError(counted, lim, "", err)
	}
	for _, f := range a.Files {
		for i := range f.Benchmarks {
			pr := f.Benchmarks[i].Profile
			if pr == nil {
				continue
			}
			// Profile paths are relative to the profile folder; one that is
			// absolute or climbs out is dropped, so that nothing that later
			// joins it to a folder (results/compare, the HTML report) opens
			// a file outside.
			for _, p := range []*string{&pr.Folded, &pr.Flamegraph, &pr.Raw} {
				if *p == "" {
					continue
				}
				clean, err := entryName(*p)
				if err != nil {
					*p = ""
					continue
				}
				*p = clean
			}
			if data, ok := folded[pr.Folded]; ok && pr.Folded != "" {
				a.Artifacts[pr.Folded] = data
			}
		}
	}
	return a, nil
}

// entryName cleans an archive path: relative, inside the folder.
func entryName(name string) (string, error) {
	if name == "" {
		return "", errors.New("empty name")
	}
	if strings.ContainsRune(name, 0) || strings.ContainsRune(name, '\\') {
		return "", errors.New("a NUL or backslash in the name")
	}
	if strings.HasPrefix(name, "/") || (len(name) >= 2 && name[1] == ':') {
		return "", errors.New("absolute path (path traversal refused)")
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == ".." {
			return "", errors.New(`".." in the path (path traversal refused)`)
		}
	}
	return path.Clean(name), nil
}

func streamError(lr *limitedReader, lim Limits, entry string, err error) error {
	if lr.exceeded {
		return &ArchiveError{Msg: fmt.Sprintf("expands to more than %d bytes (a decompression bomb?)", lim.MaxExpanded), TooLarge: true}
	}
	msg := "corrupt archive: " + err.Error()
	if errors.Is(err, io.ErrUnexpectedEOF) {
		msg = "truncated archive"
	}
	return &ArchiveError{Entry: entry, Msg: msg}
}

func jsonErrorText(data []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + strings.Count(string(data[:min(int(se.Offset), len(data))]), "\n")
		return fmt.Sprintf("line %d: %v", line, err)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("key %s: JSON %s, want %s", te.Field, te.Value, te.Type)
	}
	return err.Error()
}

// limitedReader fails once more than left bytes were read.
type limitedReader struct {
	r        io.Reader
	left     int64
	exceeded bool
}

var errExpandedTooLarge = errors.New("archive expands beyond the limit")

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// One more byte tells a stream that ends right at the limit from
		// one that goes on.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			l.exceeded = true
			return 0, errExpandedTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}
