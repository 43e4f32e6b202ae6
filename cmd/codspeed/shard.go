package main

import (
	"context"
	"fmt"
	"time"

	"github.com/codspeed-go/codspeed-go/internal/ci"
	"github.com/codspeed-go/codspeed-go/internal/shard"
	"github.com/codspeed-go/codspeed-go/server"
)

// shardDurations reads the target durations recorded in the run ref names
// on the results server, for --shard-durations (nil without one). Every shard
// must read the same figures: ref should be a commit or a run id, which do
// not move while the shards start (a branch's newest run may).
func shardDurations(ctx context.Context, serverURL, token, ref, cwd string) (map[string]time.Duration, error) {
	if ref == "" {
		return nil, nil
	}
	if serverURL == "" {
		return nil, fmt.Errorf("--shard-durations %s needs a results server: --shard-server URL or CODSPEED_SERVER_URL", ref)
	}
	info, err := ci.OSEnv(cwd).Detect()
	if err != nil {
		return nil, fmt.Errorf("--shard-durations: the project: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	c := &server.Client{URL: serverURL, Token: token}
	r, err := c.Run(ctx, info.Owner+"/"+info.Repository, ref)
	if err != nil {
		return nil, fmt.Errorf("--shard-durations %s: %w", ref, err)
	}
	bs := make([]shard.Measured, len(r.Benchmarks))
	for i, b := range r.Benchmarks {
		bs[i] = shard.Measured{Mode: b.Instrument, Benchmark: b.Benchmark}
	}
	d := shard.Durations(bs)
	if len(d) == 0 {
		return nil, fmt.Errorf("--shard-durations %s: run %s on %s records no target durations", ref, r.ID, serverURL)
	}
	return d, nil
}
