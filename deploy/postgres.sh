#!/usr/bin/env bash
# A PostgreSQL server on loopback, for the test suite, the bench and `mash cluster`.
#
#   deploy/postgres.sh install          install Debian's postgresql when missing
#   deploy/postgres.sh start DIR PORT [throwaway]
#                                       initdb DIR once and start a server on 127.0.0.1:PORT;
#                                       durable (fsync and synchronous_commit on, as
#                                       PostgreSQL ships) unless `throwaway` is given
#   deploy/postgres.sh stop DIR         stop it
#   deploy/postgres.sh watch DIR PID    stop it as soon as process PID is gone (a watchdog,
#                                       so a killed test run leaves no server behind)
#
# The superuser is `postgres`, and every connection, even on loopback or the server's own
# socket, authenticates with a password (SCRAM-SHA-256): another local account that can
# reach 127.0.0.1 gets nothing without it. The password is made at the first start and
# kept in `DIR.password` (owner-only, next to DIR, readable by whoever started the server,
# not by the `postgres` account); it never appears on a command line: initdb reads it
# from a file (`--pwfile`), clients from that file, a pgpass file or their environment.
# A DIR made before passwords (trust) is converted at its next start.
#
# As root, the server runs as the `postgres` user, who must reach DIR. A checkout's
# `.data/` is owner-only (it holds the bus's keys and passwords) and may sit under an
# owner-only home, so when `postgres` cannot reach DIR the server's data lives in a
# directory of its own under the postgres user's home instead
# (`~postgres/mash/<hash of DIR>`), and DIR keeps only a `location` file naming it:
# nothing of `.data` is loosened.
set -euo pipefail

bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ]; then echo "$d"; return; fi
  done
  return 1
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install() {
  if bindir >/dev/null; then return; fi
  echo "installing PostgreSQL from Debian's packages..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq postgresql >/dev/null
  # we run our own servers; the distribution's default cluster is not needed
  if command -v pg_ctlcluster >/dev/null; then
    for c in /etc/postgresql/*/main; do
      [ -d "$c" ] && pg_ctlcluster "$(basename "$(dirname "$c")")" main stop 2>/dev/null || true
    done
  fi
}

# the superuser's password file for DIR: made (owner-only) when missing
password_file() {
  local file="$1.password" pw
  if [ ! -s "$file" ]; then
    # only builtins see the password: printf is not a process, so no command line holds it
    pw=$(head -c 48 /dev/urandom | base64 -w0 | tr -d '+/=')
    (umask 077 && printf '%s\n' "$pw" > "$file.tmp")
    mv "$file.tmp" "$file"
  fi
  chmod 600 "$file"
  echo "$file"
}

# a copy of the password file that the server's account may read (as root: `postgres`),
# removed by the caller
readable_copy() {
  local copy
  copy=$(mktemp)
  cat "$1" > "$copy"
  if [ "$(id -u)" = 0 ]; then chown postgres "$copy"; fi
  echo "$copy"
}

# a server made before passwords (trust on loopback): give `postgres` the password in
# single-user mode (the statement goes through stdin) and require SCRAM from then on
convert() {
  local dir=$1 bin=$2 pwfile=$3 pw
  pw=$(head -n1 "$pwfile")
  printf "SET password_encryption = 'scram-sha-256';\nALTER ROLE postgres PASSWORD '%s';\n" "$pw" \
    | as_owner "$bin/postgres" --single -D "$dir" postgres >/dev/null 2>&1
  as_owner tee "$dir/pg_hba.conf" >/dev/null <<'EOF'
# written by deploy/postgres.sh: a password (SCRAM) for everyone, loopback included
local   all             all                                     scram-sha-256
host    all             all             127.0.0.1/32            scram-sha-256
host    all             all             ::1/128                 scram-sha-256
local   replication     all                                     scram-sha-256
host    replication     all             127.0.0.1/32            scram-sha-256
host    replication     all             ::1/128                 scram-sha-256
EOF
}

# the directory the server's data is in: DIR, or the one its `location` file names
datadir() {
  local dir=$1
  if [ -f "$dir/location" ]; then cat "$dir/location"; else echo "$dir"; fi
}

# as root: DIR when `postgres` can reach it, else a directory of its own, recorded in DIR
place() {
  local dir=$1 home real
  if [ -f "$dir/location" ]; then return; fi
  if runuser -u postgres -- test -x "$(dirname "$dir")" 2>/dev/null; then
    chown postgres "$dir"; chmod 700 "$dir"
    return
  fi
  home=$(getent passwd postgres | cut -d: -f6)
  real="$home/mash/$(printf '%s' "$(cd "$dir" && pwd -P)" | sha256sum | cut -c1-16)"
  mkdir -p "$real"
  chown postgres "$home/mash" "$real"; chmod 700 "$home/mash" "$real"
  echo "$real" > "$dir/location"
}

start() {
  local dir=$1 port=$2 kind=${3:-durable} bin sync=() options="" pwfile copy fresh=""
  if [ "$kind" = throwaway ]; then
    # ONLY the test suite's own server, deleted when the run ends: its data need not
    # survive a power cut, so it skips the fsyncs. Everything else keeps them (issue 26).
    sync=(--no-sync)
    options="-c fsync=off"
  elif [ "$kind" != durable ]; then
    echo "postgres.sh start: the third argument is 'throwaway' or nothing" >&2; exit 2
  fi
  install
  bin=$(bindir)
  mkdir -p "$dir"
  if [ ! -s "$dir.password" ]; then fresh=1; fi
  pwfile=$(password_file "$dir")
  if [ "$(id -u)" = 0 ]; then
    place "$dir"
  fi
  dir=$(datadir "$dir")
  if [ ! -f "$dir/PG_VERSION" ]; then
    copy=$(readable_copy "$pwfile")
    as_owner "$bin/initdb" -D "$dir" -U postgres --auth=scram-sha-256 --pwfile="$copy" \
      "${sync[@]}" -E UTF8 >/dev/null || { rm -f "$copy"; exit 1; }
    rm -f "$copy"
  elif [ -n "$fresh" ] || grep -Eq '^[^#]*[[:space:]]trust[[:space:]]*$' "$dir/pg_hba.conf"; then
    convert "$dir" "$bin" "$pwfile"
  fi
  as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 -o "-c listen_addresses=127.0.0.1 \
-p $port -k $dir $options -c max_connections=200 -c password_encryption=scram-sha-256" start >/dev/null
}

stop() {
  local dir
  dir=$(datadir "$1")
  as_owner "$(bindir)/pg_ctl" -D "$dir" -m fast -w stop >/dev/null || true
}

watch() {
  local dir=$1 pid=$2
  while kill -0 "$pid" 2>/dev/null; do sleep 1; done
  stop "$dir"
}

case "${1:-}" in
  install) install ;;
  start) start "$2" "$3" "${4:-durable}" ;;
  stop) stop "$2" ;;
  watch) watch "$2" "$3" ;;
  *) echo "usage: $0 install | start DIR PORT [throwaway] | stop DIR | watch DIR PID" >&2; exit 2 ;;
esac
