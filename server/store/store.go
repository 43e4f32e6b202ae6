// Package store is the results server's database: projects, upload tokens,
// runs (each the run parts of one CI run), their benchmarks as results
// models, and the files the pages need (folded stacks). It runs on an
// embedded SQLite file (modernc.org/sqlite, pure Go, so the binary stays
// static) or on PostgreSQL (pgx) for a team; the schema is the same on both
// and is migrated on Open with versioned migrations (goose) from
// migrations/*.sql.
//
// Every write that stores a run part is one transaction: a run part is in
// the database whole or not at all.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // registers "sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ErrNotFound is returned (wrapped) when a project, run, token or file does
// not exist.
var ErrNotFound = errors.New("not found")

// Dialects.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Store is an open database. It is safe for concurrent use.
type Store struct {
	// Dialect is SQLite or Postgres.
	Dialect string
	// read serves queries; write serves transactions that change data. They
	// are the same pool on PostgreSQL; on SQLite the write pool has one
	// connection, so writers queue in Go instead of failing with
	// SQLITE_BUSY, while readers go on in parallel (WAL).
	read, write *sql.DB
	// Now is the clock (tests set it).
	Now func() time.Time
	// where describes the database for messages, without any password.
	where string
}

// Location describes where a database is: a PostgreSQL URL
// (postgres:// or postgresql://), a SQLite URL (sqlite:///abs/path.db or
// sqlite:rel/path.db) or a plain path to a SQLite file. An empty database
// means DATA/codspeed.db.
func Location(database, dataDir string) (dialect, dsn string, err error) {
	switch {
	case database == "":
		if dataDir == "" {
			return "", "", errors.New("no database: give --database or --data")
		}
		return SQLite, filepath.Join(dataDir, "codspeed.db"), nil
	case strings.HasPrefix(database, "postgres://"), strings.HasPrefix(database, "postgresql://"):
		return Postgres, database, nil
	case strings.HasPrefix(database, "sqlite://"):
		return SQLite, strings.TrimPrefix(database, "sqlite://"), nil
	case strings.HasPrefix(database, "sqlite:"):
		return SQLite, strings.TrimPrefix(database, "sqlite:"), nil
	case strings.Contains(database, "://"):
		return "", "", fmt.Errorf("database %q: want postgres://..., sqlite:PATH or a file path", redactURL(database))
	}
	return SQLite, database, nil
}

// Open opens (creating it if needed) the database Location describes and
// applies pending migrations. Several processes may open one PostgreSQL
// database at once: migrations take an advisory lock.
func Open(ctx context.Context, database, dataDir string) (*Store, error) {
	dialect, dsn, err := Location(database, dataDir)
	if err != nil {
		return nil, err
	}
	s := &Store{Dialect: dialect, Now: time.Now}
	switch dialect {
	case SQLite:
		s.where = dsn
		if err := os.MkdirAll(filepath.Dir(dsn), 0o755); err != nil {
			return nil, fmt.Errorf("open database %s: %w", dsn, err)
		}
		// WAL lets readers run beside the writer; synchronous=NORMAL in WAL
		// mode loses no committed transaction when the process dies (only
		// a power loss may drop the last ones); _txlock=immediate takes the
		// write lock at BEGIN so two writers never deadlock on upgrade.
		conn := "file:" + dsn + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate"
		if s.write, err = sql.Open("sqlite", conn); err != nil {
			return nil, fmt.Errorf("open database %s: %w", dsn, err)
		}
		s.write.SetMaxOpenConns(1)
		if s.read, err = sql.Open("sqlite", conn); err != nil {
			s.write.Close()
			return nil, fmt.Errorf("open database %s: %w", dsn, err)
		}
		s.read.SetMaxOpenConns(4)
	case Postgres:
		s.where = redactURL(dsn)
		if s.write, err = sql.Open("pgx", dsn); err != nil {
			return nil, fmt.Errorf("open database %s: %w", s.where, err)
		}
		s.write.SetMaxOpenConns(16)
		s.write.SetMaxIdleConns(16)
		s.read = s.write
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	dialect := goose.DialectSQLite3
	opts := []goose.ProviderOption{goose.WithGoMigrations(goMigrations()...)}
	if s.Dialect == Postgres {
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("migrate %s: %w", s.where, err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, s.write, fsys, opts...)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", s.where, err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w", s.where, err)
	}
	return nil
}

// Version is the schema version the database is at.
func (s *Store) Version(ctx context.Context) (int64, error) {
	var v sql.NullInt64
	err := s.read.QueryRowContext(ctx, `SELECT MAX(version_id) FROM goose_db_version WHERE is_applied`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v.Int64, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.read.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("database %s: %w", s.where, err)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	err := s.write.Close()
	if s.read != s.write {
		err = errors.Join(err, s.read.Close())
	}
	return err
}

// String names the database without a password.
func (s *Store) String() string { return s.Dialect + " " + s.where }

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	return u.String()
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}
