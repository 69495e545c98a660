#!/usr/bin/env bash
# The real Apache Kafka broker (KRaft, one combined broker/controller) on loopback.
#
#   deploy/kafka.sh fetch   fetch the broker and its classpath from Maven Central (once)
#   deploy/kafka.sh secure  create the CA, the broker's certificate and every principal's
#                           password under MASH_KAFKA_SECURITY_DIR (once; `make setup`)
#   deploy/kafka.sh rotate PRINCIPAL
#                           give PRINCIPAL a new generated password on the running broker
#                           (Kafka's ConfigCommand, as `admin`), then store it; clients pick
#                           it up from `mash kafka-credentials PRINCIPAL` on reconnecting
#   deploy/kafka.sh up      format storage once (with the SCRAM users), start the broker,
#                           wait until it answers, create the contract's topics and the ACLs
#                           of contract section 8, then stay in the foreground until
#                           SIGINT/SIGTERM (or the death of the process that started it),
#                           which stop the broker
#
# The client listener is SASL_SSL (TLS + SCRAM-SHA-512) with Kafka's StandardAuthorizer;
# the controller listener is SSL with client certificates required (only the broker holds
# one of the stack's CA), on loopback. No password is ever on a command line: the Java
# tools get theirs through an owner-only argument file (`java @file`).
#
# Environment (defaults): KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093),
# KAFKA_DATA_DIR (.data/kafka), KAFKA_LIBS (.data/kafka-libs), KAFKA_PARTITIONS (3),
# KAFKA_HEAP (512m), MASH_KAFKA_SECURITY_DIR (.data/kafka-security).
# A node of a cluster (`mash cluster`) also sets KAFKA_NODE_ID (1), KAFKA_QUORUM_VOTERS
# (1@127.0.0.1:$KAFKA_CONTROLLER_PORT), KAFKA_CLUSTER_ID (a new one at first format),
# KAFKA_REPLICATION (1: every topic's replication factor), KAFKA_MIN_ISR (1) and
# KAFKA_BOOTSTRAP (127.0.0.1:$KAFKA_PORT: where the topics and ACLs are set up).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LIBS=${KAFKA_LIBS:-$ROOT/.data/kafka-libs}
DATA=${KAFKA_DATA_DIR:-$ROOT/.data/kafka}
PORT=${KAFKA_PORT:-9092}
CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
PARTITIONS=${KAFKA_PARTITIONS:-3}
NODE_ID=${KAFKA_NODE_ID:-1}
VOTERS=${KAFKA_QUORUM_VOTERS:-$NODE_ID@127.0.0.1:$CONTROLLER_PORT}
REPLICATION=${KAFKA_REPLICATION:-1}
MIN_ISR=${KAFKA_MIN_ISR:-1}
BOOTSTRAP=${KAFKA_BOOTSTRAP:-127.0.0.1:$PORT}
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
SECURITY=${MASH_KAFKA_SECURITY_DIR:-$ROOT/.data/kafka-security}
export MASH_KAFKA_SECURITY_DIR=$SECURITY
export MASH_KAFKA_SECURITY_PROTOCOL=SASL_SSL
unset MASH_KAFKA_USERNAME MASH_KAFKA_PASSWORD  # set-up runs as `admin`

fetch() {
  # .complete records the pom it was fetched for: a changed pom fetches again
  local wanted
  wanted=$(sha256sum "$ROOT/deploy/pom.xml" | cut -d' ' -f1)
  if [ -f "$LIBS/.complete" ] && [ "$(cat "$LIBS/.complete")" = "$wanted" ]; then return; fi
  echo "fetching Apache Kafka from Maven Central (deploy/pom.xml)..." >&2
  rm -rf "$LIBS"
  mkdir -p "$LIBS"
  mvn -q -B -f "$ROOT/deploy/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$LIBS"
  echo "$wanted" > "$LIBS/.complete"
}

secure() {
  "$PYTHON" -m mash_tools.kafka_material init --dir "$SECURITY"
}

configure() {
  mkdir -p "$DATA/logs" "$DATA/app-logs"
  chmod 700 "$DATA"
  local security
  security=$("$PYTHON" -m mash_tools.kafka_material broker-properties --dir "$SECURITY")
  (umask 077; cat > "$DATA/server.properties") <<PROPS
process.roles=broker,controller
node.id=${NODE_ID}
controller.quorum.voters=${VOTERS}
listeners=SASL_SSL://127.0.0.1:${PORT},CONTROLLER://127.0.0.1:${CONTROLLER_PORT}
advertised.listeners=SASL_SSL://127.0.0.1:${PORT}
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_SSL
listener.security.protocol.map=CONTROLLER:SSL,SASL_SSL:SASL_SSL
log.dirs=${DATA}/logs
num.partitions=${PARTITIONS}
default.replication.factor=${REPLICATION}
min.insync.replicas=${MIN_ISR}
offsets.topic.replication.factor=${REPLICATION}
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=${REPLICATION}
transaction.state.log.min.isr=${MIN_ISR}
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
${security}
PROPS
}

java_args() {
  JAVA_ARGS=(java "-Xmx${KAFKA_HEAP:-512m}" -Xms128m -XX:+UseG1GC
    "-Dlog4j.configuration=file:$ROOT/deploy/log4j.properties" "-Dkafka.logs.dir=$DATA/app-logs"
    -cp "$LIBS/*" "$@")
}

run_java() {
  java_args "$@"
  "${JAVA_ARGS[@]}"
}

format_once() {
  if [ -f "$DATA/logs/meta.properties" ] && [ -f "$DATA/secured" ]; then return; fi
  if [ -f "$DATA/logs/meta.properties" ]; then
    # formatted before the broker was secured: it has no SCRAM users, start afresh
    echo "re-formatting $DATA (made before SASL_SSL; its events are dropped)" >&2
    rm -rf "$DATA/logs"
    mkdir -p "$DATA/logs"
  fi
  local id args arg
  id=${KAFKA_CLUSTER_ID:-$(run_java kafka.tools.StorageTool random-uuid)}
  java_args kafka.tools.StorageTool format --cluster-id="$id" -c "$DATA/server.properties" \
    --ignore-formatted
  args=$(private_file)
  {
    printf '%s\n' "${JAVA_ARGS[@]:1}" | argfile_lines
    while IFS= read -r arg; do
      printf '%s\n' --add-scram "$arg" | argfile_lines
    done < <("$PYTHON" -m mash_tools.kafka_material scram-args --dir "$SECURITY")
  } > "$args"
  java "@$args" >/dev/null || { rm -f "$args"; exit 1; }
  rm -f "$args"
  touch "$DATA/secured"
}

# an owner-only temporary file (for what no command line may show)
private_file() {
  (umask 077; mktemp)
}

# each line a quoted argument of a `java @file` argument file
argfile_lines() {
  local line
  while IFS= read -r line; do
    line=${line//\\/\\\\}
    printf '"%s"\n' "${line//\"/\\\"}"
  done
}

BROKER_PID=
WATCHDOG_PID=
stop_broker() {
  trap - INT TERM EXIT
  if [ -n "$WATCHDOG_PID" ]; then kill "$WATCHDOG_PID" 2>/dev/null || true; fi
  if [ -n "$BROKER_PID" ] && kill -0 "$BROKER_PID" 2>/dev/null; then
    kill -TERM "$BROKER_PID" 2>/dev/null || true
    local i
    for i in $(seq 1 150); do
      kill -0 "$BROKER_PID" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$BROKER_PID" 2>/dev/null || true
    wait "$BROKER_PID" 2>/dev/null || true
  fi
}

# the broker must not outlive whoever started this script, even if that dies by SIGKILL
watchdog() {
  local parent=$1 broker=$2
  while kill -0 "$parent" 2>/dev/null && kill -0 "$broker" 2>/dev/null; do sleep 1; done
  kill -TERM "$broker" 2>/dev/null || exit 0
  sleep 20
  kill -KILL "$broker" 2>/dev/null || true
}

up() {
  local parent=$PPID
  fetch
  secure
  configure
  format_once
  rm -f "$DATA/ready"
  trap 'stop_broker; exit 0' INT TERM
  trap 'stop_broker' EXIT
  java_args kafka.Kafka "$DATA/server.properties"
  # exec: $! is the JVM itself, not a subshell that would leave it behind when killed
  (exec "${JAVA_ARGS[@]}") &
  BROKER_PID=$!
  watchdog "$parent" "$BROKER_PID" </dev/null >/dev/null 2>&1 &
  WATCHDOG_PID=$!
  if ! "$PYTHON" -m mash_tools.admin --bootstrap "$BOOTSTRAP" --partitions "$PARTITIONS" \
      --replication "$REPLICATION" --wait 180; then
    echo "kafka did not come up; see $DATA/app-logs/server.log" >&2
    exit 1
  fi
  touch "$DATA/ready"
  echo "kafka node ${NODE_ID} ready on 127.0.0.1:${PORT} (SASL_SSL)" >&2
  # `wait` returns early when a trapped signal arrives; the trap then stops the broker
  while kill -0 "$BROKER_PID" 2>/dev/null; do
    wait "$BROKER_PID" || true
  done
}

rotate() {
  local principal=${1:?usage: $0 rotate PRINCIPAL} password props args
  password=$("$PYTHON" -m mash_tools.kafka_material new-password)
  props=$(private_file)
  args=$(private_file)
  MASH_KAFKA_BOOTSTRAP=127.0.0.1:${PORT} "$ROOT/.venv/bin/mash" kafka-credentials admin > "$props"
  printf '%s\n' -Xmx256m "-Dlog4j.configuration=file:$ROOT/deploy/log4j-tools.properties" \
    -cp "$LIBS/*" kafka.admin.ConfigCommand --bootstrap-server "127.0.0.1:${PORT}" \
    --command-config "$props" --alter --entity-type users --entity-name "$principal" \
    --add-config "SCRAM-SHA-512=[iterations=4096,password=${password}]" | argfile_lines > "$args"
  java "@$args" >/dev/null \
    || { rm -f "$props" "$args"; echo "rotation failed; the old password stays" >&2; exit 1; }
  rm -f "$props" "$args"
  echo "$password" | "$PYTHON" -m mash_tools.kafka_material set-password "$principal" --dir "$SECURITY"
  echo "rotated the Kafka password of $principal" >&2
}

case "${1:-}" in
  fetch) fetch ;;
  rotate) rotate "${2:-}" ;;
  secure) secure ;;
  up) up ;;
  *) echo "usage: $0 fetch|secure|up|rotate PRINCIPAL" >&2; exit 2 ;;
esac
