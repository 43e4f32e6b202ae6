-- The first schema. One file serves SQLite and PostgreSQL: only types and
-- statements both understand (TEXT, BIGINT, DOUBLE PRECISION, BYTEA, ON
-- CONFLICT, RETURNING). Times are Unix microseconds (BIGINT), ids are text
-- made by the server, so neither dialect's auto-increment is needed.

-- +goose Up
CREATE TABLE projects (
    id             TEXT PRIMARY KEY,
    owner          TEXT NOT NULL,
    name           TEXT NOT NULL,
    default_branch TEXT NOT NULL DEFAULT '',
    created_at     BIGINT NOT NULL,
    UNIQUE (owner, name)
);

-- A token is "cst_<id>_<secret>"; only the SHA-256 of the secret is kept.
CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL REFERENCES projects (id),
    secret_hash TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Key/value settings of a project (forge tokens for merge-request comments,
-- thresholds, ...), written by `codspeed serve` subcommands.
CREATE TABLE project_settings (
    project_id TEXT NOT NULL REFERENCES projects (id),
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (project_id, key)
);

-- An accepted metadata POST waiting for its archive PUT. id is the SHA-256
-- of the secret in the upload URL.
CREATE TABLE pending_uploads (
    id         TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id),
    metadata   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX pending_uploads_expires ON pending_uploads (expires_at);

-- One CI run (all its run parts). run_key is the client's run id (runPart.runId),
-- unique per project, so the parts of one CI run meet in one row.
CREATE TABLE runs (
    id                  TEXT PRIMARY KEY,
    project_id          TEXT NOT NULL REFERENCES projects (id),
    run_key             TEXT NOT NULL,
    commit_hash         TEXT NOT NULL,
    branch              TEXT NOT NULL,
    ref                 TEXT NOT NULL,
    base_ref            TEXT NOT NULL,
    head_ref            TEXT NOT NULL,
    event               TEXT NOT NULL,
    pull_request        BIGINT NOT NULL,
    run_environment     TEXT NOT NULL,
    repository_provider TEXT NOT NULL,
    sender              TEXT NOT NULL,
    modes               TEXT NOT NULL,
    status              TEXT NOT NULL,
    benchmarks          BIGINT NOT NULL,
    failed              BIGINT NOT NULL,
    started_at          BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    UNIQUE (project_id, run_key)
);
CREATE INDEX runs_project_created ON runs (project_id, created_at);
CREATE INDEX runs_project_branch_created ON runs (project_id, branch, created_at);
CREATE INDEX runs_project_commit ON runs (project_id, commit_hash);

-- One upload (run part) of a run: stored once, whole.
CREATE TABLE run_parts (
    run_id         TEXT NOT NULL REFERENCES runs (id),
    part_id        TEXT NOT NULL,
    profile_md5    TEXT NOT NULL,
    mode           TEXT NOT NULL,
    executor       TEXT NOT NULL,
    runner_name    TEXT NOT NULL,
    runner_version TEXT NOT NULL,
    job_name       TEXT NOT NULL,
    metadata       TEXT NOT NULL,
    archive_bytes  BIGINT NOT NULL,
    received_at    BIGINT NOT NULL,
    PRIMARY KEY (run_id, part_id)
);

-- One benchmark of a run part. The headline figures are columns, so that a
-- history of thousands of runs is read without decoding JSON; data is the
-- whole results.Benchmark.
CREATE TABLE benchmarks (
    run_id             TEXT NOT NULL REFERENCES runs (id),
    part_id            TEXT NOT NULL,
    ord                BIGINT NOT NULL,
    instrument         TEXT NOT NULL,
    name               TEXT NOT NULL,
    uri                TEXT NOT NULL,
    error              TEXT NOT NULL,
    median_ns          DOUBLE PRECISION,
    q1_ns              DOUBLE PRECISION,
    q3_ns              DOUBLE PRECISION,
    min_ns             DOUBLE PRECISION,
    max_ns             DOUBLE PRECISION,
    mean_ns            DOUBLE PRECISION,
    stdev_ns           DOUBLE PRECISION,
    rounds             BIGINT,
    instructions       DOUBLE PRECISION,
    estimated_cycles   DOUBLE PRECISION,
    estimated_time_ns  DOUBLE PRECISION,
    peak_bytes         DOUBLE PRECISION,
    total_alloc_bytes  DOUBLE PRECISION,
    alloc_calls        DOUBLE PRECISION,
    data               TEXT NOT NULL,
    PRIMARY KEY (run_id, part_id, ord)
);
CREATE INDEX benchmarks_uri ON benchmarks (instrument, uri);

-- Files of a run part kept for the pages (folded stacks for flame graphs),
-- by their path in the uploaded profile folder.
CREATE TABLE artifacts (
    run_id  TEXT NOT NULL REFERENCES runs (id),
    part_id TEXT NOT NULL,
    path    TEXT NOT NULL,
    data    BYTEA NOT NULL,
    PRIMARY KEY (run_id, part_id, path)
);

-- +goose Down
DROP TABLE artifacts;
DROP TABLE benchmarks;
DROP TABLE run_parts;
DROP TABLE runs;
DROP TABLE pending_uploads;
DROP TABLE project_settings;
DROP TABLE tokens;
DROP TABLE projects;
