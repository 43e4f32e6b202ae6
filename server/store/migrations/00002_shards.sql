-- Shard numbers as columns (they were read from each part's upload metadata
-- on every read), and what the shard sweep needs: a run's shard count and
-- when its hooks were run for it (0: not yet). Migration 3 (Go, in
-- migrate.go) fills them for the rows already stored.

-- +goose Up
ALTER TABLE run_parts ADD COLUMN shard BIGINT NOT NULL DEFAULT 0;
ALTER TABLE run_parts ADD COLUMN shard_total BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN shard_total BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN shard_reported_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX runs_shard_unreported ON runs (shard_reported_at, shard_total, created_at);

-- +goose Down
DROP INDEX runs_shard_unreported;
ALTER TABLE runs DROP COLUMN shard_reported_at;
ALTER TABLE runs DROP COLUMN shard_total;
ALTER TABLE run_parts DROP COLUMN shard_total;
ALTER TABLE run_parts DROP COLUMN shard;
