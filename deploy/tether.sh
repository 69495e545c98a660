# Sourced by the scripts that run a server in the foreground (zipkin.sh, prometheus.sh).
#
#   tethered CMD [ARG...]   run CMD until SIGINT/SIGTERM, or until the process that started
#                           the script is gone, even by SIGKILL (a watchdog then stops CMD)
#
# kafka.sh keeps its own, longer, stop (the broker needs time to shut down cleanly).

tethered() {
  local parent=$PPID server watchdog status=0
  "$@" &
  server=$!
  trap 'kill -TERM "$server" 2>/dev/null || true' INT TERM
  (
    while kill -0 "$parent" 2>/dev/null && kill -0 "$server" 2>/dev/null; do sleep 1; done
    kill -TERM "$server" 2>/dev/null || exit 0
    sleep 20
    kill -KILL "$server" 2>/dev/null || true
  ) </dev/null >/dev/null 2>&1 &
  watchdog=$!
  # `wait` returns early when a trapped signal arrives: wait again until the server is gone
  while kill -0 "$server" 2>/dev/null; do
    wait "$server" && status=0 || status=$?
  done
  kill "$watchdog" 2>/dev/null || true
  return "$status"
}
