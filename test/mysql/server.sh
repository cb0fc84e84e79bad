# A throwaway MariaDB server for the MySQL rig and fixture captures: Debian mariadb-server
# 10.11 as a child process in a temp datadir, on 127.0.0.1, with a self-signed certificate
# (so TLS-by-default clients really use TLS) and a password user.
# Source after test/lib/envoy.sh; needs REPO. Sets MYSQL_PORT, MYSQL_SOCKET, MYSQL_USER,
# MYSQL_PASSWORD, MYSQL_DATABASE.

MYSQL_USER=mp
MYSQL_PASSWORD=mp-secret
MYSQL_DATABASE=metaproto

# mariadb client against the server's socket as root (no password: unix socket auth).
mysql_root() {
  mariadb --no-defaults --socket="$MYSQL_SOCKET" -u root "$@"
}

# Prints `Com_x value` lines of SHOW GLOBAL STATUS, read over the socket (not through Envoy).
mysql_com_status() {
  mysql_root -N -B -e "SHOW GLOBAL STATUS LIKE 'Com\\_%'"
}

start_mariadb() { # workdir
  local work=$1
  command -v mariadbd >/dev/null || die "mariadbd not found: ./build.sh setup installs mariadb-server"
  mkdir -p "$work/mariadb"
  MYSQL_SOCKET="$work/mariadb/mysqld.sock"
  MYSQL_PORT=$(free_port)
  log "generating a self-signed certificate for the server"
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
    -keyout "$work/mariadb/key.pem" -out "$work/mariadb/cert.pem" >/dev/null 2>&1 || die "openssl failed"
  log "initialising a MariaDB datadir"
  mariadb-install-db --no-defaults --datadir="$work/mariadb/data" --user="$(id -un)" \
    --auth-root-authentication-method=socket --skip-test-db >"$work/mariadb/install.log" 2>&1 \
    || { tail -n 20 "$work/mariadb/install.log" >&2; die "mariadb-install-db failed"; }
  # --skip-name-resolve and a high --max-connect-errors: rigs abort handshakes on purpose
  # (TLS, garbage) and must not get 127.0.0.1 blocked. max_allowed_packet fits a 20 MiB blob
  # sent as a 40 MiB hex literal.
  start_child mariadbd "$work/mariadb/server.log" mariadbd --no-defaults --user="$(id -un)" \
    --datadir="$work/mariadb/data" --socket="$MYSQL_SOCKET" --pid-file="$work/mariadb/mysqld.pid" \
    --port="$MYSQL_PORT" --bind-address=127.0.0.1 --skip-name-resolve --max-connect-errors=100000 \
    --max-allowed-packet=64M --innodb-buffer-pool-size=64M --innodb-log-file-size=48M \
    --ssl-cert="$work/mariadb/cert.pem" --ssl-key="$work/mariadb/key.pem" --local-infile=1
  MARIADB_PID=${CHILD_PIDS[-1]}
  wait_for "mariadbd :$MYSQL_PORT" 60 mysql_root -e "SELECT 1" \
    || { tail -n 30 "$work/mariadb/server.log" >&2; die "mariadbd did not start"; }
  mysql_root -e "CREATE DATABASE $MYSQL_DATABASE;
    CREATE USER '$MYSQL_USER'@'%' IDENTIFIED BY '$MYSQL_PASSWORD';
    GRANT ALL ON *.* TO '$MYSQL_USER'@'%';"
}
