package upload

import (
	"context"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// bigProfile writes a folder shaped like a simulation profile: callgrind
// text dumps (highly repetitive) totalling about mb megabytes.
func bigProfile(b *testing.B, mb int) string {
	dir := b.TempDir()
	rng := rand.New(rand.NewSource(1))
	var sb strings.Builder
	for sb.Len() < mb<<20 {
		sb.WriteString("fn=(" + strconv.Itoa(rng.Intn(5000)) + ") runtime.mallocgc\ncalls=1 0\n" + strconv.Itoa(rng.Intn(1000)) + " " + strconv.Itoa(rng.Intn(1<<20)) + "\n")
	}
	for i := range 4 {
		if err := os.WriteFile(filepath.Join(dir, strconv.Itoa(1000+i)+".out"), []byte(sb.String()[:sb.Len()/4]), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

func BenchmarkArchive(b *testing.B) {
	dir := bigProfile(b, 32)
	for _, gz := range []bool{false, true} {
		b.Run(map[bool]string{false: "tar", true: "tar.gz"}[gz], func(b *testing.B) {
			b.SetBytes(32 << 20)
			var size int
			for b.Loop() {
				bundle, err := Archive(dir, gz)
				if err != nil {
					b.Fatal(err)
				}
				size = len(bundle.Data)
			}
			b.ReportMetric(float64(size)/float64(32<<20), "ratio")
		})
	}
}

// BenchmarkUploadLoopback is the whole protocol (POST, PUT) of a 32 MB tar
// against a loopback server: the runner's own overhead per upload.
func BenchmarkUploadLoopback(b *testing.B) {
	bundle, err := Archive(bigProfile(b, 32), false)
	if err != nil {
		b.Fatal(err)
	}
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.Method == http.MethodPost {
			io.WriteString(w, `{"status":"success","runId":"r","uploadUrl":"`+srv.URL+`/put"}`)
		}
	}))
	defer srv.Close()
	md := NewMetadata(prInfo(), testRunner(), bundle, nil, false, false)
	b.SetBytes(int64(len(bundle.Data)))
	for b.Loop() {
		if _, err := Upload(context.Background(), Options{URL: srv.URL + "/upload", Token: testToken}, md, bundle); err != nil {
			b.Fatal(err)
		}
	}
}
