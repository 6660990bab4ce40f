#!/usr/bin/env bash
# Installs and starts, as root on Debian 12, the real servers the scale-out tests talk to:
# PostgreSQL 15 with pgvector, Redis, and an S3 server (moto), each on 127.0.0.1 only, then
# writes the variables the tests read to /var/lib/twig-services/env. Idempotent: what is
# installed is kept, a server that already answers is left running. Nothing here relies on
# systemd (CI containers do not run it): PostgreSQL goes through pg_ctlcluster, Redis and
# moto are started as daemons of their own.
#
#   bash scripts/services.sh          install, start, check (the default)
#   bash scripts/services.sh check    only check that every server answers
#   bash scripts/services.sh env      print the variables, as export lines
#   bash scripts/services.sh stop     stop the three servers
set -euo pipefail

PG_VERSION=15
PG_CONFIG=/usr/lib/postgresql/$PG_VERSION/bin/pg_config
PG_PORT=5432
PG_URL=postgres://twig:twig@127.0.0.1:$PG_PORT/twig
PGVECTOR_MIN=0.8
REDIS_PORT=6379
S3_PORT=5000
S3_URL=http://127.0.0.1:$S3_PORT
# Pinned, like scripts/schemathesis.sh pins its tool, so every machine runs the same server.
MOTO_SPEC='moto[server]==5.2.1'

CACHE=/var/cache/twig-services
STATE=/var/lib/twig-services
LOGS=/var/log/twig-services
RUN=/run/twig-services
ENV_FILE=$STATE/env
MOTO_VENV=$STATE/moto-venv
TRIXIE_SRC=/etc/apt/sources.list.d/twig-trixie-src.sources

say() { echo "services: $*" >&2; }
die() { echo "services: $*" >&2; exit 1; }

# --- apt: only touched when something is missing, so a second run makes no network call.

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

apt_updated=
apt_update() {
    apt-get update -qq || die "apt-get update failed${1:+ $1} (network or mirror down?)"
    apt_updated=1
}

apt_install() {
    local need=() p
    for p in "$@"; do installed "$p" || need+=("$p"); done
    [ ${#need[@]} -eq 0 ] && return 0
    say "installing ${need[*]}"
    [ -n "$apt_updated" ] || apt_update
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" \
        || die "apt-get install ${need[*]} failed"
}

# Replaces $1 with $2 (plus a newline) only when it differs; returns 1 when it changed nothing.
write_if_changed() {
    if [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; then return 1; fi
    printf '%s\n' "$2" >"$1"
}

wait_for() { # what probe seconds log
    local i
    for ((i = 0; i < $3; i++)); do
        "$2" && return 0
        sleep 1
    done
    die "$1 did not answer within $3 s (see $4)"
}

# --- PostgreSQL 15 (Debian's), cluster 15/main on 127.0.0.1:5432, role and database twig.

pg_status() { pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" '$1 == v && $2 == "main" { print $4 }'; }
psql_admin() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" "$@"; }
pg_ready() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; }
pg_login() { PGCONNECT_TIMEOUT=5 psql "$PG_URL" -X -q -tA -c 'select 1' >/dev/null 2>&1; }

start_postgres() {
    apt_install "postgresql-$PG_VERSION" "postgresql-client-$PG_VERSION" "postgresql-server-dev-$PG_VERSION"
    # The package creates 15/main itself unless told not to (create_main_cluster = false).
    if [ -z "$(pg_status)" ]; then
        say "creating cluster $PG_VERSION/main"
        pg_createcluster "$PG_VERSION" main --port "$PG_PORT" >/dev/null
    fi

    # A drop-in in conf.d (which Debian's postgresql.conf includes last, so it wins) rather
    # than edits to postgresql.conf; pg_conftool would write 127.0.0.1 unquoted, which
    # PostgreSQL refuses.
    local changed= conf=/etc/postgresql/$PG_VERSION/main
    mkdir -p "$conf/conf.d"
    if write_if_changed "$conf/conf.d/twig-services.conf" "# Written by scripts/services.sh: loopback only.
listen_addresses = '127.0.0.1'
port = $PG_PORT"; then
        changed=1
    fi
    # Debian's pg_hba.conf already has this line; put it back if someone took it out.
    local hba=$conf/pg_hba.conf
    if ! grep -Eq '^[[:space:]]*host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+(scram-sha-256|md5)' "$hba"; then
        echo 'host    all             all             127.0.0.1/32            scram-sha-256' >>"$hba"
        changed=1
    fi

    case "$(pg_status)" in
        online) if [ -n "$changed" ]; then say "restarting PostgreSQL for its new settings"; pg_ctlcluster "$PG_VERSION" main restart; fi ;;
        *) say "starting PostgreSQL $PG_VERSION/main"; pg_ctlcluster "$PG_VERSION" main start ;;
    esac
    wait_for PostgreSQL pg_ready 30 "/var/log/postgresql/postgresql-$PG_VERSION-main.log"

    # SUPERUSER: the tests create and drop their own databases and run CREATE EXTENSION vector.
    if [ -z "$(psql_admin -tAc "select 1 from pg_roles where rolname = 'twig'")" ]; then
        say "creating role twig"
        psql_admin -c "create role twig with login superuser password 'twig'"
    fi
    if [ -z "$(psql_admin -tAc "select 1 from pg_database where datname = 'twig'")" ]; then
        say "creating database twig"
        psql_admin -c "create database twig owner twig"
    fi
    if [ -z "$(psql_admin -tAc "select 1 from pg_roles where rolname = 'twig' and rolsuper and rolcanlogin")" ] || ! pg_login; then
        say "resetting role twig (login, superuser, password twig)"
        psql_admin -c "alter role twig with login superuser password 'twig'"
    fi
    pg_login || die "PostgreSQL runs but $PG_URL refuses the login (check $hba)"
}

# --- pgvector 0.8: Debian 12 has no package of it. Debian 13 (trixie) has 0.8, so its
# source is built here against PostgreSQL 15. The trixie line is deb-src only, in a file of
# its own, so apt can never install a trixie binary on this bookworm machine.

pgvector_version() {
    sed -n "s/^default_version *= *'\(.*\)'.*/\1/p" "/usr/share/postgresql/$PG_VERSION/extension/vector.control" 2>/dev/null || true
}

install_pgvector() {
    local have
    have=$(pgvector_version)
    if [ -n "$have" ] && dpkg --compare-versions "$have" ge "$PGVECTOR_MIN"; then return 0; fi

    say "building pgvector from Debian 13 (trixie) source (installed: ${have:-none})"
    apt_install build-essential dpkg-dev "postgresql-server-dev-$PG_VERSION"
    write_if_changed "$TRIXIE_SRC" "Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" || true
    # Always update here: the trixie Sources index is needed, whatever ran before.
    apt_update "(it must read Debian 13's source index, $TRIXIE_SRC)"

    local work=$CACHE/pgvector src
    rm -rf "$work"
    mkdir -p "$work"
    # apt downloads as its sandbox user _apt where that user can write (else it warns).
    chown _apt "$work" 2>/dev/null || true
    (cd "$work" && apt-get source -qq pgvector/trixie) \
        || die "could not fetch pgvector's source from Debian 13 (trixie) with apt-get source (network or mirror down? deb-src line in $TRIXIE_SRC)"
    src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'pgvector-*' | head -n 1)
    [ -n "$src" ] || die "apt-get source pgvector unpacked nothing into $work"
    # The .so must not depend on this one CPU: Debian's source already patches out pgvector's
    # default -march=native (no-native), and OPTFLAGS= makes sure of it.
    make -C "$src" -j"$(nproc)" PG_CONFIG="$PG_CONFIG" OPTFLAGS= >"$work/build.log" 2>&1 \
        || die "building pgvector failed (see $work/build.log)"
    make -C "$src" install PG_CONFIG="$PG_CONFIG" OPTFLAGS= >>"$work/build.log" 2>&1 \
        || die "installing pgvector failed (see $work/build.log)"

    have=$(pgvector_version)
    dpkg --compare-versions "${have:-0}" ge "$PGVECTOR_MIN" \
        || die "trixie's pgvector is ${have:-unknown}, older than $PGVECTOR_MIN"
    say "pgvector $have installed"
}

# Extension, distance operator and an HNSW index, in a temp table that is dropped again.
check_pgvector() {
    PGCONNECT_TIMEOUT=5 psql "$PG_URL" -X -q -tA -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE EXTENSION IF NOT EXISTS vector;
SELECT '[1,2,3]'::vector <=> '[1,2,4]'::vector;
CREATE TEMP TABLE twig_services_check (v vector(3));
INSERT INTO twig_services_check VALUES ('[1,2,3]'), ('[1,2,4]'), ('[3,2,1]');
CREATE INDEX ON twig_services_check USING hnsw (v vector_cosine_ops);
DROP TABLE twig_services_check;
SQL
}

# --- Redis (Debian's), on 127.0.0.1:6379, no persistence: the tests own their data.

redis_up() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

start_redis() {
    apt_install redis-server
    # A Redis that answers (the package's own service, where systemd runs) is left alone.
    redis_up && return 0
    say "starting Redis"
    mkdir -p "$LOGS" "$RUN" "$STATE/redis"
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --save '' --appendonly no \
        --dir "$STATE/redis" --pidfile "$RUN/redis.pid" --logfile "$LOGS/redis.log"
    wait_for Redis redis_up 15 "$LOGS/redis.log"
}

# --- S3: moto in server mode, from PyPI, in a virtualenv of Debian's python3 (as
# scripts/sdk-setup.sh does for its tools) rather than pip --break-system-packages.

s3_up() { curl -sf -o /dev/null --max-time 5 "$S3_URL/"; }

moto_pid() {
    local pid
    pid=$(cat "$RUN/moto.pid" 2>/dev/null) || return 1
    [ -n "$pid" ] && grep -qa moto_server "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

start_moto() {
    apt_install python3 python3-venv curl ca-certificates
    if [ ! -x "$MOTO_VENV/bin/moto_server" ] || [ "$(cat "$MOTO_VENV/.spec" 2>/dev/null)" != "$MOTO_SPEC" ]; then
        say "installing $MOTO_SPEC into $MOTO_VENV"
        /usr/bin/python3 -m venv "$MOTO_VENV"
        "$MOTO_VENV/bin/pip" install --quiet --disable-pip-version-check "$MOTO_SPEC" \
            || die "pip install $MOTO_SPEC failed"
        echo "$MOTO_SPEC" >"$MOTO_VENV/.spec"
    fi
    s3_up && return 0
    say "starting moto (S3) on $S3_URL"
    mkdir -p "$LOGS" "$RUN"
    # setsid + nohup: the server outlives this script and the shell that ran it.
    setsid nohup "$MOTO_VENV/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >>"$LOGS/moto.log" 2>&1 </dev/null &
    echo $! >"$RUN/moto.pid"
    wait_for "moto (S3)" s3_up 60 "$LOGS/moto.log"
}

# --- the rest

env_lines() {
    cat <<EOF
export TWIG_TEST_POSTGRES_URL=$PG_URL
export TWIG_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT
export TWIG_TEST_S3_ENDPOINT=$S3_URL
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1
EOF
}

check() {
    local down=() err
    if ! command -v psql >/dev/null 2>&1; then
        down+=("PostgreSQL (no psql: run this script without arguments)")
    elif ! pg_login; then
        down+=("PostgreSQL ($PG_URL does not answer or refuses the login)")
    elif ! err=$(check_pgvector 2>&1); then
        down+=("pgvector (in $PG_URL: ${err//$'\n'/ })")
    fi
    redis_up || down+=("Redis (redis-cli -h 127.0.0.1 -p $REDIS_PORT ping: no PONG)")
    s3_up || down+=("S3/moto ($S3_URL/ does not answer)")
    if [ ${#down[@]} -gt 0 ]; then
        printf 'services: down: %s\n' "${down[@]}" >&2
        exit 1
    fi
    say "up: PostgreSQL with pgvector $(pgvector_version), Redis, S3 (moto)"
}

stop() {
    local pid
    if pid=$(moto_pid); then
        say "stopping moto (pid $pid)"
        kill "$pid"
        for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        rm -f "$RUN/moto.pid"
    elif s3_up; then
        say "something not started by this script answers on $S3_URL: left running"
    fi
    if redis_up; then
        say "stopping Redis"
        redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    fi
    if [ "$(pg_status)" = online ]; then
        say "stopping PostgreSQL $PG_VERSION/main"
        pg_ctlcluster "$PG_VERSION" main stop
    fi
}

need_root() { [ "$(id -u)" = 0 ] || die "run this as root (it installs Debian packages and starts servers)"; }

case "${1:-}" in
    "")
        need_root
        mkdir -p "$CACHE" "$STATE" "$LOGS" "$RUN"
        start_postgres
        install_pgvector
        start_redis
        start_moto
        check
        write_if_changed "$ENV_FILE" "$(env_lines)" || true
        env_lines
        ;;
    check) check ;;
    env) env_lines ;;
    stop) need_root; stop ;;
    *) die "usage: $0 [check|env|stop]" ;;
esac
