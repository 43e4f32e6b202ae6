package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"
)

// goMigrations are the migrations written in Go: what SQL alone cannot do
// in both dialects.
func goMigrations() []*goose.Migration {
	return []*goose.Migration{
		goose.NewGoMigration(3, &goose.GoFunc{RunTx: backfillShards}, &goose.GoFunc{RunTx: func(context.Context, *sql.Tx) error { return nil }}),
	}
}

// backfillShards fills the shard columns of migration 2 from the parts'
// upload metadata (reading JSON in SQL differs between SQLite and
// PostgreSQL). Runs stored before count as reported: the servers that
// stored them ran their hooks (or lost the timer with their process), and a
// sweep must not post comments on old runs.
func backfillShards(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT run_id, part_id, metadata FROM run_parts`)
	if err != nil {
		return fmt.Errorf("read run parts: %w", err)
	}
	type part struct{ run, id string }
	shards := map[part][2]int{}
	for rows.Next() {
		var p part
		var md string
		if err := rows.Scan(&p.run, &p.id, &md); err != nil {
			rows.Close()
			return fmt.Errorf("read run parts: %w", err)
		}
		if i, n := partShard(md); n > 0 {
			shards[p] = [2]int{i, n}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read run parts: %w", err)
	}
	for p, s := range shards {
		if _, err := tx.ExecContext(ctx, `UPDATE run_parts SET shard = $1, shard_total = $2 WHERE run_id = $3 AND part_id = $4`, s[0], s[1], p.run, p.id); err != nil {
			return fmt.Errorf("run part %s: %w", p.id, err)
		}
	}
	_, err = tx.ExecContext(ctx, `UPDATE runs SET shard_total = COALESCE((SELECT MAX(shard_total) FROM run_parts WHERE run_parts.run_id = runs.id), 0)`)
	if err != nil {
		return fmt.Errorf("run shard counts: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE runs SET shard_reported_at = updated_at WHERE shard_total > 0`); err != nil {
		return fmt.Errorf("run shard reports: %w", err)
	}
	return nil
}
