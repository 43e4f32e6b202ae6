// Command serve-load measures the results server's ingest rate: C clients
// upload 1 MB profiles through the runner's own upload client (results/upload)
// to a `codspeed serve` it starts on loopback, for a fixed number of uploads.
// As a peer in the same run, the same clients upload to a discarding
// endpoint of the same protocol in this process (the HTTP and client
// ceiling on this machine). It prints uploads per second, latencies and the
// server's resident memory at rest and at its peak under load.
//
//	go run ./scripts/serve-load -binary bin/codspeed -db sqlite -clients 50 -uploads 1000
//	go run ./scripts/serve-load -binary bin/codspeed -db postgres://... -clients 50 -uploads 1000
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/results/upload"
)

func main() {
	binary := flag.String("binary", "bin/codspeed", "the codspeed binary")
	db := flag.String("db", "sqlite", `"sqlite" (a fresh --data folder) or a PostgreSQL URL (use a fresh database)`)
	clients := flag.Int("clients", 50, "concurrent clients")
	uploads := flag.Int("uploads", 1000, "uploads in all (bounded)")
	size := flag.Int("size", 1<<20, "bytes of profile per upload (incompressible)")
	flag.Parse()
	if err := run(*binary, *db, *clients, *uploads, *size); err != nil {
		fmt.Fprintln(os.Stderr, "serve-load:", err)
		os.Exit(1)
	}
}

func run(binary, db string, clients, uploads, size int) error {
	var dbArgs []string
	if db == "sqlite" {
		dir, err := os.MkdirTemp("", "serve-load-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dbArgs = []string{"--data", dir}
	} else {
		dbArgs = []string{"--database", db}
	}
	out, err := exec.Command(binary, append([]string{"serve", "token", "create", "load/test"}, dbArgs...)...).Output()
	if err != nil {
		return fmt.Errorf("token create: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	token := lines[len(lines)-1]

	cmd := exec.Command(binary, append([]string{"serve", "--listen", "127.0.0.1:0"}, dbArgs...)...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	serveURL, err := waitListening(stderr)
	if err != nil {
		return err
	}
	go io.Copy(io.Discard, stderr)

	bundles := makeBundles(clients, size)
	time.Sleep(time.Second)
	rest := rssKB(cmd.Process.Pid, "VmRSS")

	peer, err := discardServer()
	if err != nil {
		return err
	}
	peerRate, peerLat, peerFailed := load(peer, "", bundles, clients, uploads, "peer")
	rate, lat, failed := load(serveURL, token, bundles, clients, uploads, "serve")
	peak := rssKB(cmd.Process.Pid, "VmHWM")
	time.Sleep(2 * time.Second)
	after := rssKB(cmd.Process.Pid, "VmRSS")

	fmt.Printf("database: %s, %d clients, %d uploads of %d bytes\n", dbArgs[0], clients, uploads, len(bundles[0].b.Data))
	fmt.Printf("| endpoint | uploads/s | p50 | p99 | failed |\n|---|---|---|---|---|\n")
	fmt.Printf("| codspeed serve | %.1f | %s | %s | %d |\n", rate, lat[0].Round(time.Millisecond), lat[1].Round(time.Millisecond), failed)
	fmt.Printf("| discarding endpoint (peer) | %.1f | %s | %s | %d |\n", peerRate, peerLat[0].Round(time.Millisecond), peerLat[1].Round(time.Millisecond), peerFailed)
	fmt.Printf("server RSS: %.1f MB at rest, %.1f MB peak under load, %.1f MB after\n", float64(rest)/1024, float64(peak)/1024, float64(after)/1024)
	return nil
}

var listenRE = regexp.MustCompile(`listening on (http://\S+)`)

func waitListening(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if m := listenRE.FindStringSubmatch(sc.Text()); m != nil {
			return m[1], nil
		}
	}
	return "", fmt.Errorf("serve exited before listening")
}

type bundle struct {
	b  *upload.Bundle
	js []byte
}

// makeBundles prepares one archive per client: a results file of 20
// simulation benchmarks and an incompressible profile of size bytes.
func makeBundles(n, size int) []bundle {
	out := make([]bundle, n)
	for i := range out {
		f := results.File{Creator: results.Creator{Name: "load", Version: "1", Pid: i}, Instrument: results.Instrument{Type: results.Simulation}}
		for j := range 20 {
			f.Benchmarks = append(f.Benchmarks, results.Benchmark{Name: fmt.Sprintf("b%d", j), URI: fmt.Sprintf("bench::b%d", j),
				Simulation: &results.SimulationStats{Instructions: float64(1000 + j)}})
		}
		js, _ := json.Marshal(f)
		noise := make([]byte, size)
		rand.Read(noise)
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, e := range []struct {
			name string
			data []byte
		}{{"results/1.json", js}, {"callgrind.out", noise}} {
			tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg})
			tw.Write(e.data)
		}
		tw.Close()
		sum := md5.Sum(buf.Bytes())
		out[i] = bundle{b: &upload.Bundle{Data: buf.Bytes(), MD5: base64.StdEncoding.EncodeToString(sum[:])}, js: js}
	}
	return out
}

// load runs uploads uploads from clients goroutines and returns the rate,
// the p50 and p99 latencies and the failures.
func load(base, token string, bundles []bundle, clients, uploads int, tag string) (float64, [2]time.Duration, int) {
	var next, failed atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	start := time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(uploads) {
					return
				}
				b := bundles[c]
				runID := tag + "-" + strconv.FormatInt(i, 10)
				md := upload.Metadata{Version: upload.MetadataVersion, ProfileMd5: b.b.MD5,
					Runner:         upload.Runner{Name: "load", Version: "1", Instruments: []string{}, Executor: "valgrind"},
					RunEnvironment: "LOCAL", RepositoryProvider: "PROJECT", CommitHash: "0123456789abcdef0123456789abcdef01234567",
					Ref: "refs/heads/main", Owner: "load", Repository: "test", Event: "push",
					RunPart: &upload.RunPart{RunID: runID, RunPartID: runID + "-simulation", Metadata: map[string]string{"mode": "simulation"}}}
				t0 := time.Now()
				_, err := upload.Upload(context.Background(), upload.Options{URL: base + "/upload", Token: token, HTTPClient: hc, Retries: -1}, md, b.b)
				d := time.Since(t0)
				if err != nil {
					failed.Add(1)
					fmt.Fprintln(os.Stderr, "upload:", err)
					continue
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	slices.Sort(lat)
	var q [2]time.Duration
	if len(lat) > 0 {
		q = [2]time.Duration{lat[len(lat)/2], lat[len(lat)*99/100]}
	}
	return float64(len(lat)) / el.Seconds(), q, int(failed.Load())
}

// discardServer speaks the upload protocol and keeps nothing: it reads
// the metadata and the archive, checks the MD5, and answers.
func discardServer() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	base := "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		var md struct {
			ProfileMd5 string `json:"profileMd5"`
		}
		json.NewDecoder(r.Body).Decode(&md)
		fmt.Fprintf(w, `{"status":"ok","uploadUrl":%q,"runId":"x"}`, base+"/put/x?md5="+url.QueryEscape(md.ProfileMd5))
	})
	mux.HandleFunc("PUT /put/", func(w http.ResponseWriter, r *http.Request) {
		h := md5.New()
		io.Copy(h, r.Body)
		if base64.StdEncoding.EncodeToString(h.Sum(nil)) != r.URL.Query().Get("md5") {
			http.Error(w, "md5", 400)
			return
		}
		io.WriteString(w, `{"status":"ok"}`)
	})
	go http.Serve(ln, mux)
	return base, nil
}

// rssKB reads a field of /proc/PID/status in kB.
func rssKB(pid int, field string) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return 0
}
