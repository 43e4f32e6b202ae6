package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/codspeed-go/codspeed-go/server"
	"github.com/codspeed-go/codspeed-go/server/mrcomment"
	"github.com/codspeed-go/codspeed-go/server/store"
	"github.com/codspeed-go/codspeed-go/server/web"
)

const serveSynopsis = `codspeed serve [flags]
  codspeed serve token create OWNER/NAME [--data DIR | --database URL]
  codspeed serve config OWNER/NAME KEY [VALUE] [--data DIR | --database URL]

Run the results server: uploads with the CodSpeed protocol (point runners at
--upload-url http://HOST:8787/upload with a token), history, comparisons and
the web pages, on an embedded SQLite database in --data (default), or on
PostgreSQL with --database postgres://... . SIGTERM drains requests in
flight, then exits. See docs/server.md.`

// databaseFlags are the flags that say where the server's database is.
type databaseFlags struct {
	data     string
	database string
}

func (d *databaseFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&d.data, "data", defaultDataDir(), "folder of the SQLite database (when --database is not given) [$CODSPEED_DATA]")
	fs.StringVar(&d.database, "database", os.Getenv("CODSPEED_DATABASE_URL"), "database URL: postgres://... or sqlite:PATH (default: DATA/codspeed.db) [$CODSPEED_DATABASE_URL]")
}

func (d *databaseFlags) open(ctx context.Context) (*store.Store, error) {
	return store.Open(ctx, d.database, d.data)
}

func defaultDataDir() string {
	if d := os.Getenv("CODSPEED_DATA"); d != "" {
		return d
	}
	data := os.Getenv("XDG_DATA_HOME")
	if data == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "codspeed-data"
		}
		data = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(data, "codspeed-go", "server")
}

func cmdServe(ctx context.Context, args []string) int {
	if len(args) > 0 && args[0] == "token" {
		return cmdServeToken(ctx, args[1:])
	}
	if len(args) > 0 && args[0] == "config" {
		return cmdServeConfig(ctx, args[1:])
	}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	var db databaseFlags
	db.register(fs)
	listen := fs.String("listen", envOr("CODSPEED_LISTEN", ":8787"), "address to listen on [$CODSPEED_LISTEN]")
	private := fs.Bool("private", envBool("CODSPEED_PRIVATE", false), "require a token for every read (API and pages) [$CODSPEED_PRIVATE]")
	maxUpload := fs.String("max-upload-size", envOr("CODSPEED_MAX_UPLOAD_SIZE", "256MiB"), "largest archive accepted (e.g. 64MiB, 1GB); larger ones get 413 [$CODSPEED_MAX_UPLOAD_SIZE]")
	publicURL := fs.String("public-url", os.Getenv("CODSPEED_PUBLIC_URL"), "the server's URL as clients reach it, for the upload URLs it answers with (default: from the request's Host) [$CODSPEED_PUBLIC_URL]")
	shardTimeout := fs.Duration("shard-timeout", server.DefaultShardTimeout, "how long a sharded run waits for its missing parts before its merge-request comment is posted and the missing ones are reported")
	drain := fs.Duration("shutdown-timeout", 30*time.Second, "how long SIGTERM waits for requests in flight")
	if code, ok := parseFlags(fs, args, serveSynopsis); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fail(exitUsage, "serve takes no arguments (got %q); did you mean `codspeed serve token create OWNER/NAME`?", fs.Arg(0))
	}
	limit, err := parseSize(*maxUpload)
	if err != nil {
		return fail(exitUsage, "--max-upload-size: %v", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	st, err := db.open(ctx)
	if err != nil {
		return fail(exitFailed, "%v", err)
	}
	defer st.Close()
	srv, err := server.New(server.Config{Store: st, Private: *private, MaxUploadSize: limit, PublicURL: *publicURL, Log: log, ShardTimeout: *shardTimeout})
	if err != nil {
		return fail(exitFailed, "%v", err)
	}
	// The shard sweep reports sharded runs whose parts did not all arrive
	// in time; it stops with the server (ctx).
	go srv.SweepShards(ctx, server.ShardSweepInterval(*shardTimeout))
	pages := web.New(st, log)
	srv.Pages = pages
	srv.HandleProject("changes", pages.ServeChanges)
	srv.OnRun((&mrcomment.Reporter{Store: st, Log: log, PublicURL: *publicURL}).Hook)

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fail(exitFailed, "listen: %v", err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	// One line on stderr a script can wait for (and read the port from,
	// with --listen 127.0.0.1:0).
	fmt.Fprintf(os.Stderr, "codspeed serve: listening on http://%s (%s)\n", ln.Addr(), st)

	select {
	case err := <-errc:
		return fail(exitFailed, "serve: %v", err)
	case <-ctx.Done():
	}
	fmt.Fprintln(os.Stderr, "codspeed serve: shutting down, draining requests in flight")
	srv.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), *drain)
	defer cancel()
	code := exitOK
	if err := hs.Shutdown(sctx); err != nil {
		fmt.Fprintf(os.Stderr, "codspeed serve: %v\n", err)
		code = exitFailed
	}
	if err := srv.WaitHooks(sctx); err != nil {
		fmt.Fprintf(os.Stderr, "codspeed serve: %v\n", err)
		code = exitFailed
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(os.Stderr, "codspeed serve: %v\n", err)
		code = exitFailed
	}
	fmt.Fprintln(os.Stderr, "codspeed serve: stopped")
	return code
}

const tokenSynopsis = `codspeed serve token create OWNER/NAME [flags]

Create an upload token for a project on the server's database (creating the
project). The token is printed alone on the last line of stdout; the server
keeps only a hash of it, so keep it in your CI's secrets.`

func cmdServeToken(ctx context.Context, args []string) int {
	fs := pflag.NewFlagSet("serve token", pflag.ContinueOnError)
	var db databaseFlags
	db.register(fs)
	if code, ok := parseFlags(fs, args, tokenSynopsis); !ok {
		return code
	}
	if fs.NArg() != 2 || fs.Arg(0) != "create" {
		return fail(exitUsage, "usage: codspeed serve token create OWNER/NAME")
	}
	owner, name, err := store.SplitProject(fs.Arg(1))
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	st, err := db.open(ctx)
	if err != nil {
		return fail(exitFailed, "%v", err)
	}
	defer st.Close()
	token, err := st.CreateToken(ctx, owner, name)
	if err != nil {
		return fail(exitFailed, "%v", err)
	}
	fmt.Fprintf(os.Stderr, "created an upload token for %s/%s in %s; it is shown once:\n", owner, name, st)
	fmt.Println(token)
	return exitOK
}

const configSynopsis = `codspeed serve config OWNER/NAME KEY [VALUE] [flags]

Read (without VALUE) or set a project setting on the server's database; an
empty VALUE ("") removes it. Keys:
  default_branch     the branch the project page charts (default: main or
                     master when it has runs, else the busiest branch)
  gitlab.token       GitLab token (api scope) for merge-request comments
  gitlab.url         GitLab API base (default https://gitlab.com/api/v4)
  gitlab.project     the GitLab project path (default OWNER/NAME)
  github.token       GitHub token for pull-request comments
  github.url         GitHub API base (default https://api.github.com)
  github.repository  OWNER/REPO on GitHub (default OWNER/NAME)
  thresholds.regression, thresholds.improvement, thresholds.walltime,
  thresholds.simulation, thresholds.memory
                     the project's thresholds, as codspeed.yml's top-level
                     thresholds: section ("5%" or 0.05): the API's compare,
                     the compare page and merge-request comments judge with
                     them (default: codspeed compare's built-in ones)
Tokens are stored as given: protect the database.`

// settingKeys are the settings `serve config` accepts.
var settingKeys = map[string]bool{"default_branch": true, "gitlab.token": true, "gitlab.url": true, "gitlab.project": true,
	"github.token": true, "github.url": true, "github.repository": true,
	store.SettingThresholdRegression: true, store.SettingThresholdImprovement: true, store.SettingThresholdWalltime: true,
	store.SettingThresholdSimulation: true, store.SettingThresholdMemory: true}

func cmdServeConfig(ctx context.Context, args []string) int {
	fs := pflag.NewFlagSet("serve config", pflag.ContinueOnError)
	var db databaseFlags
	db.register(fs)
	if code, ok := parseFlags(fs, args, configSynopsis); !ok {
		return code
	}
	if fs.NArg() < 2 || fs.NArg() > 3 {
		return fail(exitUsage, "usage: codspeed serve config OWNER/NAME KEY [VALUE]")
	}
	owner, name, err := store.SplitProject(fs.Arg(0))
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	key := fs.Arg(1)
	if !settingKeys[key] {
		return fail(exitUsage, "unknown setting %q (see `codspeed serve config --help`)", key)
	}
	st, err := db.open(ctx)
	if err != nil {
		return fail(exitFailed, "%v", err)
	}
	defer st.Close()
	p, err := st.EnsureProject(ctx, owner, name)
	if err != nil {
		return fail(exitFailed, "%v", err)
	}
	if fs.NArg() == 2 {
		var v string
		if key == "default_branch" {
			v, err = st.DefaultBranch(ctx, p)
		} else {
			v, err = st.Setting(ctx, p, key)
		}
		if err != nil {
			return fail(exitFailed, "%v", err)
		}
		fmt.Println(v)
		return exitOK
	}
	if strings.HasPrefix(key, "thresholds.") && fs.Arg(2) != "" {
		if _, err := store.ParseThreshold(fs.Arg(2)); err != nil {
			return fail(exitUsage, "%s: %v", key, err)
		}
	}
	if key == "default_branch" {
		err = st.SetDefaultBranch(ctx, p, fs.Arg(2))
	} else {
		err = st.SetSetting(ctx, p, key, fs.Arg(2))
	}
	if err != nil {
		return fail(exitFailed, "%v", err)
	}
	fmt.Fprintf(os.Stderr, "%s: %s set\n", p.Slug(), key)
	return exitOK
}

// parseSize reads a byte count: a number with an optional unit (B, KB, MB,
// GB: powers of 1000; KiB, MiB, GiB: powers of 1024).
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("%q is not a size like 256MiB", s)
	}
	mult := map[string]float64{"": 1, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30}[strings.ToLower(unit)]
	if mult == 0 {
		return 0, fmt.Errorf("%q: unknown unit %q (B, KB, MB, GB, KiB, MiB, GiB)", s, unit)
	}
	return int64(v * mult), nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
