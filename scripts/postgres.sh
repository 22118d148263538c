# A throw-away PostgreSQL for the tests and benchmarks (sourced by scripts/test.sh and
# bench/cluster.sh): Debian's postgresql (installed when missing and we are root), a
# cluster made with initdb in a temporary directory on 127.0.0.1 and a free port.
# start_postgres exports DRYDOCK_TEST_POSTGRES (a postgres:// address) unless it is set
# already (a server of your own), and DRYDOCK_TEST_POSTGRES_TLS: a directory with the
# test CA (ca.crt) that signed the server's certificate (for the name localhost only)
# and an unrelated CA (other-ca.crt), for the TLS tests; stop_postgres stops and
# removes it.
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
  make_certificates "$pg_dir/tls" || return 1
  [ "$(id -u)" = 0 ] && chown -R postgres: "$pg_dir/tls"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U drydock -A trust -E UTF8 --locale=C \
    --no-sync >"$pg_dir/initdb.log" 2>&1 || { cat "$pg_dir/initdb.log" >&2; return 1; }
  pg_ctl=("${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data")
  "${pg_ctl[@]}" -w -l "$pg_dir/server.log" \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $pg_dir -c fsync=off -c max_connections=300 \
       -c ssl=on -c ssl_cert_file=$pg_dir/tls/server.crt -c ssl_key_file=$pg_dir/tls/server.key" \
    start >/dev/null
  export DRYDOCK_TEST_POSTGRES="postgres://drydock@127.0.0.1:$port/postgres"
  export DRYDOCK_TEST_POSTGRES_TLS="$pg_dir/tls"
}
# A CA, a server certificate it signed for the name localhost (not 127.0.0.1), and a
# second CA that signed nothing the server has: ECDSA P-256, valid two days.
make_certificates() {
  local dir=$1
  if ! command -v openssl >/dev/null; then
    [ "$(id -u)" = 0 ] || { echo "openssl is needed for the TLS tests" >&2; return 1; }
    apt-get install -y openssl
  fi
  mkdir -p "$dir"
  local key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  local ca_ext=(-addext "basicConstraints=critical,CA:true" -addext "keyUsage=critical,keyCertSign,cRLSign")
  {
    openssl req -x509 "${key[@]}" -days 2 -subj /CN=drydock-test-ca "${ca_ext[@]}" \
      -keyout "$dir/ca.key" -out "$dir/ca.crt"
    openssl req -x509 "${key[@]}" -days 2 -subj /CN=drydock-other-ca "${ca_ext[@]}" \
      -keyout "$dir/other-ca.key" -out "$dir/other-ca.crt"
    openssl req "${key[@]}" -subj /CN=localhost -keyout "$dir/server.key" -out "$dir/server.csr"
    printf '%s\n' "subjectAltName=DNS:localhost" "basicConstraints=critical,CA:false" \
      "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$dir/server.ext"
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
      -CAcreateserial -days 2 -extfile "$dir/server.ext" -out "$dir/server.crt"
  } >"$dir/openssl.log" 2>&1 || { cat "$dir/openssl.log" >&2; return 1; }
  chmod 600 "$dir/server.key"
}
stop_postgres() {
  if [ -n "$pg_dir" ]; then
    "${pg_ctl[@]}" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
    pg_dir=""
  fi
}
