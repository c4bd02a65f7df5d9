#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL server on loopback for the tests (Debian's `postgresql` package).
#
#   scripts/postgres.sh start DIR [PORT]   initdb in DIR (if new), start on 127.0.0.1:PORT (default: first free of
#                                          5440 5442 5444 5446 5448), socket in DIR, then print the URL:
#                                          postgres://oauth_broker:oauth_broker@127.0.0.1:PORT/oauth_broker
#   scripts/postgres.sh stop DIR [MODE]    stop the server whose PID file is in DIR (`pg_ctl stop -m MODE`; MODE is
#                                          `fast`, the default, or `immediate`: no shutdown checkpoint, clients cut
#                                          off at once, as in a crash; the next start runs crash recovery)
#
# The server refuses to run as root: under root the cluster belongs to the `postgres` system user, which the
# package creates. Nothing here listens beyond 127.0.0.1.
set -euo pipefail

command="${1:?usage: postgres.sh start|stop DIR [PORT]}"
dir="${2:?usage: postgres.sh start|stop DIR [PORT]}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
if [ -z "$bin" ]; then echo "postgres.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; fi

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$command" in
start)
    port="${3:-}"
    if [ -z "$port" ]; then
        for candidate in 5440 5442 5444 5446 5448; do
            if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then port="$candidate"; break; fi
        done
    fi
    if [ -z "$port" ]; then echo "postgres.sh: no free port" >&2; exit 1; fi
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir"; fi
    chmod 0700 "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        printf 'oauth_broker\n' >"$dir/pwfile"
        if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir/pwfile"; fi
        as_owner "$bin/initdb" -D "$dir/data" -U oauth_broker --pwfile="$dir/pwfile" -A scram-sha-256 \
            --no-sync >"$dir/initdb.log" 2>&1
    fi
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
        -o "-k $dir -h 127.0.0.1 -p $port -c fsync=off -c max_connections=500" >/dev/null
    PGPASSWORD=oauth_broker "$bin/psql" -h 127.0.0.1 -p "$port" -U oauth_broker -d postgres -qtA \
        -c "SELECT 1 FROM pg_database WHERE datname = 'oauth_broker'" | grep -q 1 ||
        PGPASSWORD=oauth_broker "$bin/createdb" -h 127.0.0.1 -p "$port" -U oauth_broker oauth_broker
    echo "postgres://oauth_broker:oauth_broker@127.0.0.1:$port/oauth_broker"
    ;;
stop)
    mode="${3:-fast}"
    case "$mode" in fast | immediate) ;; *) echo "postgres.sh: stop mode must be fast or immediate" >&2; exit 2 ;; esac
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -w -t 30 stop -m "$mode" >/dev/null 2>&1 ||
            kill "$(head -n 1 "$dir/data/postmaster.pid")" 2>/dev/null || true
    fi
    ;;
*)
    echo "postgres.sh: unknown command $command" >&2
    exit 2
    ;;
esac
