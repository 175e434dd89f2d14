#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for the tests, and exports JUESUAN_TEST_DATABASE_URL naming it.
#
# Sourced by .ci/run (and usable by hand: `source .ci/postgres.sh`, then `cargo test`). It installs PostgreSQL from
# the distribution's packages when no server is installed, initialises a cluster in a temporary directory as a
# non-root user (PostgreSQL refuses to run as root: as root, the cluster belongs to a system user made for it),
# starts it on a free loopback port with a socket directory of its own, and stops it when the shell exits.

pg_bin_dir() {
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$found" ] && [ -x "$found/initdb" ]; then
        echo "$found"
    elif command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
    fi
}

if [ -z "$(pg_bin_dir)" ]; then
    echo "== installing PostgreSQL (Debian packages)"
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    else
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    fi
fi
PG_BIN=$(pg_bin_dir)
if [ -z "$PG_BIN" ]; then
    echo "PostgreSQL is not installed and could not be installed" >&2
    return 1 2>/dev/null || exit 1
fi

PG_DIR=$(mktemp -d /tmp/juesuan-pg.XXXXXX)
PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if [ "$(id -u)" = 0 ]; then
    id juesuan-pg >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin juesuan-pg
    chown juesuan-pg "$PG_DIR"
    as_pg() { runuser -u juesuan-pg -- "$@"; }
else
    as_pg() { "$@"; }
fi

echo "== PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT ($PG_DIR)"
as_pg "$PG_BIN/initdb" --pgdata="$PG_DIR/data" --username=postgres --auth=trust --encoding=UTF8 --no-locale \
    >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; return 1 2>/dev/null || exit 1; }
# Sized for a test suite that opens a database per test, many at once; fsync stays on (the kill tests need it).
as_pg "$PG_BIN/pg_ctl" --pgdata="$PG_DIR/data" --log="$PG_DIR/server.log" --wait start \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c max_connections=400 -c shared_buffers=128MB" \
    >/dev/null || { cat "$PG_DIR/server.log" >&2; return 1 2>/dev/null || exit 1; }

stop_postgres() {
    as_pg "$PG_BIN/pg_ctl" --pgdata="$PG_DIR/data" --mode=fast --wait stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
}
trap stop_postgres EXIT

# The tests create a database of their own per test on this server, through the `postgres` database.
export JUESUAN_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
export JUESUAN_TEST_PG_BIN="$PG_BIN"
