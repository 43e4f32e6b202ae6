package main

import (
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/server/store"
)

// TestABUploadsPair: `codspeed ab` with an upload URL uploads both sides to
// a real `codspeed serve`, as two runs that name each other. The head's run
// page links its base and shows the paired verdict; comparing the two on the
// server uses that verdict; neither side enters the branch's history. A
// token without an upload URL uploads nothing.
func TestABUploadsPair(t *testing.T) {
	for name, dbArgs := range serveBackends(t) {
		t.Run(name, func(t *testing.T) { testABUploadsPair(t, dbArgs) })
	}
}

func testABUploadsPair(t *testing.T, dbArgs []string) {
	srv, token, repo := serveAndRepo(t, dbArgs)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	baseCmd, headCmd := primes+" 200000 10", primes+" 200000 12"
	r := codspeed(t, repo, "", "ab", "--base-command", baseCmd, "--head-command", headCmd, "--name", "primes",
		"--budget", "30s", "--enable-perf=false", "--upload-url", srv.url+"/upload", "--token-file", tokenFile)
	if r.code != 1 || strings.Count(r.stderr, "uploaded walltime results of run") != 2 {
		t.Fatalf("ab with an upload URL: exit %d, want 1 (20%% more work) and two uploads\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stderr+srv.stderr.String(), token) {
		t.Fatal("the token was printed")
	}

	runs := srv.runs(t, "")
	if len(runs) != 2 {
		t.Fatalf("want the two sides as two runs, got %+v", runs)
	}
	byRole := map[string]store.Run{}
	for _, run := range runs {
		if run.Pair == nil {
			t.Fatalf("run %s has no pair", run.ID)
		}
		byRole[run.Pair.Role] = run
	}
	base, head := byRole[store.PairBase], byRole[store.PairHead]
	if base.Pair == nil || head.Pair == nil || base.Pair.Run != head.ID || head.Pair.Run != base.ID ||
		base.Pair.Label != baseCmd || head.Pair.Label != headCmd {
		t.Fatalf("pair links: base %+v, head %+v", base.Pair, head.Pair)
	}

	var cmp struct {
		Regressed  bool
		Benchmarks []struct {
			Verdict string
			Paired  *struct{ Estimate struct{ Ratio, Lo float64 } }
		}
	}
	srv.getJSON(t, "/api/v1/projects/acme/widget/compare?base="+base.ID+"&head="+head.ID, &cmp)
	if !cmp.Regressed || len(cmp.Benchmarks) != 1 || cmp.Benchmarks[0].Verdict != "regressed" || cmp.Benchmarks[0].Paired == nil ||
		cmp.Benchmarks[0].Paired.Estimate.Lo <= 1.01 {
		t.Fatalf("server compare of the pair: %+v", cmp)
	}

	page := html.UnescapeString(httpGet(t, srv.url+"/runs/"+head.ID))
	for _, want := range []string{"A/B pair", "the head side (" + headCmd + ")", `href="/runs/` + base.ID + `"`,
		"against the A/B base: paired ratio", "regressed", "Compare with the base of its A/B pair"} {
		if !strings.Contains(stripTags(page), want) && !strings.Contains(page, want) {
			t.Errorf("head's run page lacks %q", want)
		}
	}
	report := httpGet(t, srv.url+"/projects/acme/widget/compare?base="+base.ID+"&head="+head.ID)
	if !strings.Contains(report, "paired ratio [CI]") {
		t.Errorf("the pair's compare page has no paired ratio column")
	}
	page = html.UnescapeString(httpGet(t, srv.url+"/runs/"+base.ID))
	if !strings.Contains(page, `href="/runs/`+head.ID+`"`) || !strings.Contains(stripTags(page), "the base side ("+baseCmd+")") ||
		!strings.Contains(page, "Compare with the head of its A/B pair") {
		t.Errorf("base's run page does not link its head")
	}

	// The sides measured commands of their own, not the branch.
	var hist struct {
		Series []struct {
			Points []struct {
				RunID string `json:"run_id"`
			}
		}
	}
	srv.getJSON(t, "/api/v1/projects/acme/widget/history?branch=main", &hist)
	if len(hist.Series) != 0 {
		t.Errorf("history of main: %+v, want none", hist)
	}

	// A token alone never sends the pair anywhere.
	r = codspeed(t, repo, "", "ab", "--base-command", "true", "--head-command", "true", "--budget", "3s", "--warmup", "0s",
		"--enable-perf=false", "--token-file", tokenFile)
	if r.code != 0 || !strings.Contains(r.stderr, "not uploading") || strings.Contains(r.stderr, "uploaded") {
		t.Errorf("ab with a token and no upload URL: exit %d\n%s", r.code, r.stderr)
	}
	if n := len(srv.runs(t, "")); n != 2 {
		t.Errorf("%d runs on the server, want 2", n)
	}
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

// stripTags is a page's text without its markup.
func stripTags(page string) string { return tagRE.ReplaceAllString(page, "") }
