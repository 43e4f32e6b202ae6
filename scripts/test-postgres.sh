#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the results server's tests, on loopback
# only, with trust authentication for the postgres user over TCP.
#   scripts/test-postgres.sh start   # prints the admin URL (export it as CODSPEED_TEST_POSTGRES_URL)
#   scripts/test-postgres.sh stop    # stops it and removes its files
# Needs Debian's postgresql package; runs the server binaries as the postgres
# user when started as root. Idempotent: start on a running cluster only
# prints the URL.
set -euo pipefail
DIR=${CODSPEED_TEST_PG_DIR:-/tmp/codspeed-test-pg}
PORT=${CODSPEED_TEST_PG_PORT:-54329}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -n "$BIN" ] || { echo "test-postgres: no /usr/lib/postgresql/*/bin: apt-get install postgresql" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
start)
  if ! as_pg "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
    rm -rf "$DIR"
    mkdir -p "$DIR"
    [ "$(id -u)" = 0 ] && chown postgres: "$DIR"
    as_pg "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 >/dev/null
    # Fast, not durable: the data is thrown away after the tests.
    as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null
  fi
  echo "postgres://postgres@127.0.0.1:$PORT/postgres?sslmode=disable"
  ;;
stop)
  as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
  ;;
*)
  echo "usage: $0 start|stop" >&2
  exit 2
  ;;
esac
