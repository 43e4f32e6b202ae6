package web

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/server"
	"github.com/codspeed-go/codspeed-go/server/store"
)

// chromium finds Debian's Chromium (or another Chrome). Without one the
// test is skipped on a developer's machine; in CI (CI=true), where .ci/run
// installs chromium, it fails.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on PATH: .ci/run installs Debian's chromium")
	}
	t.Skip("no chromium on PATH (apt-get install chromium)")
	return ""
}

// uploadPart sends one run part through the server's real upload endpoint,
// as the runner's upload client does: the metadata POST with the token,
// then the PUT of the profile folder's tar to the URL it answers.
func uploadPart(t *testing.T, base, token, ciRun, part, branch, commit string, files map[string][]byte) {
	t.Helper()
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	for _, name := range sortedNames(files) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), ModTime: time.Unix(1700000000, 0)}); err != nil {
			t.Fatal(err)
		}
		tw.Write(files[name])
	}
	tw.Close()
	sum := md5.Sum(tarBuf.Bytes())
	md := map[string]any{
		"version": 6, "tokenless": false, "profileMd5": base64.StdEncoding.EncodeToString(sum[:]), "profileEncoding": nil,
		"runner":         map[string]any{"name": "codspeed-go", "version": "test", "instruments": []string{}, "executor": "walltime"},
		"runEnvironment": "local", "repositoryProvider": "github", "commitHash": commit, "allowEmpty": false,
		"ref": "refs/heads/" + branch, "headRef": nil, "baseRef": nil, "owner": "acme", "repository": "widgets",
		"event": "push", "sender": nil, "runPart": map[string]any{"runId": ciRun, "runPartId": part, "jobName": "bench", "metadata": map[string]string{}},
	}
	body, _ := json.Marshal(md)
	req, _ := http.NewRequest("POST", base+"/upload", bytes.NewReader(body))
	req.Header.Set("Authorization", token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("upload metadata: %s: %s", resp.Status, answer)
	}
	var a struct{ UploadURL string }
	if err := json.Unmarshal(answer, &a); err != nil || a.UploadURL == "" {
		t.Fatalf("upload answer %s: %v", answer, err)
	}
	put, _ := http.NewRequest("PUT", a.UploadURL, bytes.NewReader(tarBuf.Bytes()))
	put.Header.Set("Content-Type", "application/x-tar")
	resp, err = http.DefaultClient.Do(put)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("upload archive: %s: %s", resp.Status, answer)
	}
}

func sortedNames(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func resultsJSON(t *testing.T, f *results.File) []byte {
	data, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestBrowser serves real stored runs, uploaded through the real ingest
// endpoint into SQLite, and reads the pages in headless Chromium.
func TestBrowser(t *testing.T) {
	exe := chromium(t)
	ctx := context.Background()
	st := testStore(t)
	srv, err := server.New(server.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	pages := New(st, nil)
	srv.Pages = pages
	srv.HandleProject("changes", pages.ServeChanges)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	token, err := st.CreateToken(ctx, "acme", "widgets")
	if err != nil {
		t.Fatal(err)
	}

	const runs = 5
	for i := range runs {
		wall := walltimeFile(map[string][]float64{"fast": around(1000*float64(1+i/3), 30), evil: around(200, 30)}, "fast", evil)
		wall.Benchmarks[0].Profile = &results.Profile{Event: "cpu-clock", Folded: "perf/fast.folded"}
		sim := &results.File{Instrument: results.Instrument{Type: results.Simulation}}
		for _, name := range []string{"fast", evil} {
			sim.Benchmarks = append(sim.Benchmarks, results.Benchmark{Name: name, URI: "bench.go::" + name,
				Simulation: &results.SimulationStats{Instructions: 1e6 * float64(1+i/3), TimeNs: 3e5 * float64(1+i/3)}})
		}
		commit := fmt.Sprintf("%040x", i+1)
		ciRun := fmt.Sprintf("pipeline-%d", i)
		uploadPart(t, ts.URL, token, ciRun, "walltime", "main", commit, map[string][]byte{
			"results/100.json": resultsJSON(t, wall),
			"perf/fast.folded": []byte("main;work;" + evil + " 30\nmain;work;hash 70\n"),
		})
		uploadPart(t, ts.URL, token, ciRun, "simulation", "main", commit, map[string][]byte{"results/200.json": resultsJSON(t, sim)})
	}

	// Chromium makes its own temporary folders (org.chromium.Chromium.*) in
	// TMPDIR and may leave some when it is stopped: give it a folder of its
	// own, removed after the browser (cleanups run last in, first out).
	chromeTmp, err := os.MkdirTemp("", "chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(chromeTmp) })
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Env("TMPDIR="+chromeTmp),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true))
	actx, cancelA := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelA()
	var mu sync.Mutex
	var problems []string
	var bctx context.Context
	listen := func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value))
				}
				problems = append(problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			problems = append(problems, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, msg))
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
				problems = append(problems, fmt.Sprintf("log %s: %s (%s)", ev.Entry.Level, ev.Entry.Text, ev.Entry.URL))
			}
		case *page.EventJavascriptDialogOpening:
			problems = append(problems, "a dialog opened: "+ev.Message)
			go chromedp.Call(bctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}
	bctx, cancelB := chromedp.NewContext(actx, chromedp.WithListener(listen))
	defer cancelB()
	bctx, cancelT := context.WithTimeout(bctx, 90*time.Second)
	defer cancelT()

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Home: the project is a link; follow it.
	must(chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/")))
	href, err := chromedp.Run(bctx, chromedp.AttributeValue(`#projects a`, "href"))
	must(err)
	linkText, err := chromedp.Run(bctx, chromedp.Text(`#projects a`))
	must(err)
	if href.Value != "/projects/acme/widgets" || linkText != "acme/widgets" {
		t.Errorf("home links %q (%q)", href.Value, linkText)
	}
	must(chromedp.Do(bctx, chromedp.Click(`#projects a`), chromedp.WaitReady(`section.bench`)))

	// Project: one section per benchmark and instrument, each chart with
	// one point per run, names as text.
	type section struct {
		Name, Instrument string
		Points           []int
		Scripts          int
	}
	url, err := chromedp.Run(bctx, chromedp.Location())
	must(err)
	if url != ts.URL+"/projects/acme/widgets" {
		t.Errorf("the link led to %s", url)
	}
	sections, err := chromedp.Run(bctx, chromedp.Evaluate[[]section](`[...document.querySelectorAll("section.bench")].map(s => ({
		Name: s.querySelector("h3").textContent,
		Instrument: s.dataset.instrument,
		Points: [...s.querySelectorAll("svg.chart")].map(c => c.querySelectorAll(".pt").length),
		Scripts: document.querySelectorAll("script").length,
	}))`))
	must(err)
	if len(sections) != 4 {
		t.Fatalf("%d benchmark sections, want 4 (2 benchmarks × walltime, simulation): %+v", len(sections), sections)
	}
	names := map[string]int{}
	for _, s := range sections {
		names[s.Name+"/"+s.Instrument]++
		if len(s.Points) != 1 || s.Points[0] != runs {
			t.Errorf("%s (%s): points per chart %v, want [%d]", s.Name, s.Instrument, s.Points, runs)
		}
		if s.Scripts != 0 {
			t.Errorf("the project page has %d scripts", s.Scripts)
		}
	}
	for _, want := range []string{"fast/walltime", "fast/simulation", evil + "/walltime", evil + "/simulation"} {
		if names[want] != 1 {
			t.Errorf("no section %q shown as text: %v", want, names)
		}
	}
	// Both benchmarks' instructions double at the fourth run: each
	// simulation chart marks that change (found by threshold).
	marks, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("section.bench[data-instrument=simulation] svg.chart line.change").length`))
	must(err)
	if marks != 2 {
		t.Errorf("%d change markers on the simulation charts, want 2", marks)
	}

	// A point is a link to its run's page.
	must(chromedp.Do(bctx, chromedp.Click(`section.bench svg.chart a circle.pt`), chromedp.WaitReady(`table.facts`)))
	loc, err := chromedp.Run(bctx, chromedp.Location())
	must(err)
	if !strings.HasPrefix(loc, ts.URL+"/runs/") {
		t.Errorf("clicking a point led to %s", loc)
	}

	// The run page of the newest run: the flame graph's script runs (it
	// would report errors), and frame names are text.
	stored, err := st.Runs(ctx, mustProject(t, st), storeRunFilter())
	if err != nil || len(stored) != runs {
		t.Fatalf("runs: %d, %v", len(stored), err)
	}
	must(chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/runs/"+stored[0].ID), chromedp.WaitReady(`svg.fg`)))
	frames, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("svg.fg g.fg-f")].map(g => g.dataset.n)`))
	must(err)
	if !contains(frames, evil) || !contains(frames, "hash") {
		t.Errorf("flame graph frames %q", frames)
	}
	benchNames, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("table.benchmarks td.name a")].map(a => a.textContent)`))
	must(err)
	if !contains(benchNames, evil) {
		t.Errorf("run page names %q", benchNames)
	}

	// The compare page: the oldest run against main's newest, with the
	// report's verdicts.
	must(chromedp.Do(bctx, chromedp.Navigate(ts.URL+"/projects/acme/widgets/compare?base="+stored[len(stored)-1].ID+"&head=main")))
	title, err := chromedp.Run(bctx, chromedp.Text(`h1`))
	must(err)
	verdicts, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("td.verdict")].map(td => td.textContent)`))
	must(err)
	if !strings.HasPrefix(title, "Regression") || len(verdicts) != 4 {
		t.Errorf("compare page: %q, verdicts %q", title, verdicts)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("the browser reported:\n%s", strings.Join(problems, "\n"))
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func mustProject(t *testing.T, st *store.Store) *store.Project {
	p, err := st.Project(context.Background(), "acme", "widgets")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func storeRunFilter() store.RunFilter { return store.RunFilter{Branch: "main"} }
