# A throw-away PostgreSQL for the tests and benchmarks (sourced by scripts/test.sh and
# bench/cluster.sh): Debian's postgresql (installed when missing and we are root), a
# cluster made with initdb in a temporary directory on 127.0.0.1 and a free port.
# start_postgres exports DRYDOCK_TEST_POSTGRES (a postgres:// address) unless it is set
# already (a server of your own); stop_postgres stops and removes it.
pg_dir=""
pg_ctl=()
start_postgres() {
  if [ -n "${DRYDOCK_TEST_POSTGRES:-}" ]; then
    return 0
  fi
  local pg_bin
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$pg_bin" ]; then
    if [ "$(id -u)" = 0 ]; then
      # Only the programs: no cluster of the package's own.
      mkdir -p /etc/postgresql-common
      [ -e /etc/postgresql-common/createcluster.conf ] \
        || echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
      apt-get update
      apt-get install -y postgresql
      pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    else
      echo "PostgreSQL is needed: sudo apt-get install -y postgresql" >&2
      echo "(or DRYDOCK_TEST_POSTGRES=postgres://user@host:port/db of a server of yours)" >&2
      return 1
    fi
  fi
  pg_dir=$(mktemp -d /tmp/drydock-pg.XXXXXX)
  local as_pg=()
  if [ "$(id -u)" = 0 ]; then
    # PostgreSQL refuses to run as root.
    chown postgres: "$pg_dir"
    as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups --)
  fi
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U drydock -A trust -E UTF8 --locale=C \
    --no-sync >"$pg_dir/initdb.log" 2>&1 || { cat "$pg_dir/initdb.log" >&2; return 1; }
  pg_ctl=("${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data")
  "${pg_ctl[@]}" -w -l "$pg_dir/server.log" \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $pg_dir -c fsync=off -c max_connections=300" \
    start >/dev/null
  export DRYDOCK_TEST_POSTGRES="postgres://drydock@127.0.0.1:$port/postgres"
}
stop_postgres() {
  if [ -n "$pg_dir" ]; then
    "${pg_ctl[@]}" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
    pg_dir=""
  fi
}
