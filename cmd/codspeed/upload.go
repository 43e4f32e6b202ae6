package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/codspeed-go/codspeed-go/internal/ci"
	"github.com/codspeed-go/codspeed-go/internal/gitrepo"
	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/results/upload"
	"github.com/codspeed-go/codspeed-go/version"
)

// uploadFlags are the upload settings of run, exec, ab and upload.
type uploadFlags struct {
	url       string
	token     string
	tokenFile string
}

func (u *uploadFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&u.url, "upload-url", os.Getenv("CODSPEED_UPLOAD_URL"), "CodSpeed-compatible upload endpoint (default "+upload.DefaultURL+") [$CODSPEED_UPLOAD_URL]")
	fs.StringVar(&u.token, "token", "", "upload token [$CODSPEED_TOKEN]; other users see it in the process list: prefer --token-file or the variable")
	fs.StringVar(&u.tokenFile, "token-file", "", "read the upload token from this file (- for standard input); never printed or stored")
}

// registerSkip adds --skip-upload, which wanted reads (run, exec and ab).
func (u *uploadFlags) registerSkip(fs *pflag.FlagSet) {
	fs.Bool("skip-upload", false, "do not upload, even with a token or upload URL (uploading happens only with one) [$CODSPEED_SKIP_UPLOAD]")
}

// loadToken reads --token-file (from stdin for "-") into u.token, before
// anything runs, and warns that a --token value is visible in `ps`.
func (u *uploadFlags) loadToken(fs *pflag.FlagSet, stdin io.Reader, warn io.Writer) error {
	if fs.Changed("token") && u.tokenFile != "" {
		return errors.New("give the token once: --token or --token-file, not both")
	}
	if fs.Changed("token") {
		fmt.Fprintln(warn, "warning: --token is visible to every user of this machine in the process list (ps, /proc/PID/cmdline): use --token-file FILE, --token-file - (standard input) or CODSPEED_TOKEN")
	}
	if u.tokenFile == "" {
		return nil
	}
	var data []byte
	var err error
	if u.tokenFile == "-" {
		data, err = io.ReadAll(io.LimitReader(stdin, 64<<10))
	} else {
		data, err = os.ReadFile(u.tokenFile)
	}
	if err != nil {
		return fmt.Errorf("--token-file: %w", err)
	}
	where := u.tokenFile
	if where == "-" {
		where = "standard input"
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		return fmt.Errorf("--token-file: %s holds no token", where)
	}
	if strings.ContainsAny(tok, "\r\n") {
		return fmt.Errorf("--token-file: %s holds more than one line; it must hold the token alone", where)
	}
	u.token = tok
	return nil
}

// wanted says whether run/exec should upload: uploading is an addition, so
// only when an endpoint or a token (--token, --token-file, CODSPEED_TOKEN)
// is given and --skip-upload was not. The GitHub OIDC request variables alone
// never switch it on: a job may grant id-token for other reasons, and
// `codspeed upload` uses them when asked to upload.
func (u *uploadFlags) wanted(fs *pflag.FlagSet) bool {
	if skip, _ := fs.GetBool("skip-upload"); skip && fs.Changed("skip-upload") {
		return false
	}
	if envBool("CODSPEED_SKIP_UPLOAD", false) && !fs.Changed("skip-upload") {
		return false
	}
	return u.url != "" || u.token != "" || u.tokenFile != "" || os.Getenv("CODSPEED_TOKEN") != ""
}

func cmdUpload(ctx context.Context, args []string) int {
	fs := pflag.NewFlagSet("upload", pflag.ContinueOnError)
	var u uploadFlags
	u.register(fs)
	allowEmpty := fs.Bool("allow-empty", false, "upload even when the run has no benchmarks")
	if code, ok := parseFlags(fs, args, "codspeed upload [flags] [RUN]\n\nUpload a run kept in the local store (default: the newest) with the CodSpeed upload\nprotocol; use it to retry a failed upload."); !ok {
		return code
	}
	if err := u.loadToken(fs, os.Stdin, os.Stderr); err != nil {
		return fail(exitUsage, "%v", err)
	}
	cwd, _ := os.Getwd()
	setFileOwner(gitrepo.Root(cwd), cwd)
	store := &results.Store{Root: results.DefaultStoreRoot(gitrepo.Root(cwd))}
	var meta *results.RunMeta
	var err error
	if len(fs.Args()) > 0 {
		meta, err = store.Find(fs.Args()[0])
	} else {
		var runs []*results.RunMeta
		runs, err = store.List()
		if err == nil && len(runs) == 0 {
			err = fmt.Errorf("no runs in %s", store.Root)
		}
		if err == nil {
			meta = runs[0]
		}
	}
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	if err := uploadRun(ctx, u, meta, cwd, *allowEmpty); err != nil {
		return fail(exitFailed, "%v", err)
	}
	return exitOK
}

// uploadRun uploads each part (mode) of a run. A failure loses nothing: the
// run stays in the store and the message says how to retry.
func uploadRun(ctx context.Context, u uploadFlags, meta *results.RunMeta, cwd string, allowEmpty bool) error {
	if len(meta.Parts) == 0 {
		return fmt.Errorf("run %s (%s) has no results to upload", meta.ID, meta.Status)
	}
	client := &http.Client{Timeout: 2 * time.Minute}
	token, source, err := upload.ResolveToken(ctx, u.token, os.Getenv, client, upload.DefaultOIDCAudience)
	if err != nil && !errors.Is(err, upload.ErrNoOIDC) {
		return fmt.Errorf("upload token: %w", err)
	}
	info, err := ci.OSEnv(cwd).Detect()
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	url := u.url
	if url == "" {
		url = upload.DefaultURL
	}
	base := info.RunID
	if base == "" || meta.Pair != nil {
		// Each side of an A/B pair is a run of its own on the server,
		// named by its local id, and its parts name the other side.
		base = meta.ID
	}
	src := info.Source()
	if meta.Pair != nil && meta.Git.Commit != "" {
		// `ab --base REF` measured REF's commit, not the checkout's.
		src.CommitHash = meta.Git.Commit
	}
	var errs []error
	for _, part := range meta.Parts {
		executor := map[string]string{results.Walltime: upload.ExecutorWalltime, results.Simulation: upload.ExecutorValgrind, results.Memory: upload.ExecutorMemory}[part.Mode]
		bundle, err := upload.Archive(part.ProfileFolder, part.Mode == results.Simulation)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: archive %s: %w", part.Mode, part.ProfileFolder, err))
			continue
		}
		// The part index was taken when the run started in CI; a run
		// uploaded later (or made locally) takes the next one now.
		index := 0
		if meta.CI != nil && meta.CI.RunID == base {
			index = meta.CI.PartIndex
		} else if index, err = upload.NextRunPart(upload.StateDir(info.Source(), cwd), base); err != nil {
			errs = append(errs, err)
			continue
		}
		partBase := base + "-" + part.Mode
		rpMeta := map[string]string{"mode": part.Mode}
		if sh := meta.Shard; sh != nil {
			// Shards run on other machines, whose part counters all
			// start at 0: the shard index keeps their part ids apart, and
			// the count tells the server how many parts to wait for.
			partBase += fmt.Sprintf("-shard-%d-of-%d", sh.Index, sh.Total)
			rpMeta["shard"] = strconv.Itoa(sh.Index)
			rpMeta["shardTotal"] = strconv.Itoa(sh.Total)
		}
		if pr := meta.Pair; pr != nil {
			rpMeta["pairRole"], rpMeta["pairWith"] = pr.Role, pr.With
			if pr.Label != "" {
				rpMeta["pairLabel"] = pr.Label
			}
		}
		rp := &upload.RunPart{RunID: base, RunPartID: upload.PartID(partBase, index), JobName: info.JobName, Metadata: rpMeta}
		runner := upload.RunnerMetadata(version.Name, version.String(), executor, meta.Modes)
		md := upload.NewMetadata(src, runner, bundle, rp, token == "", allowEmpty)
		resp, err := upload.Upload(ctx, upload.Options{URL: url, Token: token, HTTPClient: client, UserAgent: version.UserAgent(), Log: os.Stderr}, md, bundle)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", part.Mode, err))
			continue
		}
		via := "tokenless"
		if token != "" {
			via = "token from " + source
		}
		fmt.Fprintf(os.Stderr, "uploaded %s results of run %s (%s, %d bytes): status %s, remote run %s\n", part.Mode, meta.ID, via, len(bundle.Data), resp.Status, resp.RunID)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("upload failed; the run is kept in %s, retry with `codspeed upload %s`: %w",
			filepath.Dir(meta.Parts[0].ProfileFolder), meta.ID, err)
	}
	return nil
}
