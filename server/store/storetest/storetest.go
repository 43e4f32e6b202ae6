// Package storetest gives tests a throwaway PostgreSQL database on the
// cluster CODSPEED_TEST_POSTGRES_URL names (.ci/run starts one and sets it).
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
)

// EnvPostgres names the admin URL of the test cluster.
const EnvPostgres = "CODSPEED_TEST_POSTGRES_URL"

// PostgresURL creates a fresh database on the test cluster and returns its
// URL; the database is dropped when the test ends. Without the variable it
// returns "" on a developer's machine and fails the test in CI (CI=true),
// where .ci/run provides the cluster.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvPostgres)
	if admin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: .ci/run starts a PostgreSQL cluster for these tests", EnvPostgres)
		}
		t.Logf("%s is not set: PostgreSQL not tested", EnvPostgres)
		return ""
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("%s: %v", EnvPostgres, err)
	}
	db, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("%s: %v", EnvPostgres, err)
	}
	defer db.Close()
	b := make([]byte, 6)
	rand.Read(b)
	name := "codspeed_test_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database on %s: %v", u.Redacted(), err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", admin)
		if err != nil {
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}
