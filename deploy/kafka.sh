#!/usr/bin/env bash
# The real Apache Kafka broker (KRaft, one combined broker/controller) on loopback.
#
#   deploy/kafka.sh fetch   fetch the broker and its classpath from Maven Central (once)
#   deploy/kafka.sh up      format storage once, start the broker, wait until it answers,
#                           create the contract's topics, then stay in the foreground until
#                           SIGINT/SIGTERM, which stop the broker
#
# Environment (defaults): KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093),
# KAFKA_DATA_DIR (.data/kafka), KAFKA_LIBS (.data/kafka-libs), KAFKA_PARTITIONS (3),
# KAFKA_HEAP (512m).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LIBS=${KAFKA_LIBS:-$ROOT/.data/kafka-libs}
DATA=${KAFKA_DATA_DIR:-$ROOT/.data/kafka}
PORT=${KAFKA_PORT:-9092}
CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
PARTITIONS=${KAFKA_PARTITIONS:-3}
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}

fetch() {
  if [ -f "$LIBS/.complete" ]; then return; fi
  echo "fetching Apache Kafka from Maven Central (deploy/pom.xml)..." >&2
  mkdir -p "$LIBS"
  mvn -q -B -f "$ROOT/deploy/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$LIBS"
  touch "$LIBS/.complete"
}

configure() {
  mkdir -p "$DATA/logs" "$DATA/app-logs"
  cat > "$DATA/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${CONTROLLER_PORT}
listeners=PLAINTEXT://127.0.0.1:${PORT},CONTROLLER://127.0.0.1:${CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://127.0.0.1:${PORT}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${DATA}/logs
num.partitions=${PARTITIONS}
offsets.topic.replication.factor=1
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
PROPS
}

run_java() {
  java "-Xmx${KAFKA_HEAP:-512m}" -Xms128m -XX:+UseG1GC \
    "-Dlog4j.configuration=file:$ROOT/deploy/log4j.properties" "-Dkafka.logs.dir=$DATA/app-logs" \
    -cp "$LIBS/*" "$@"
}

format_once() {
  if [ -f "$DATA/logs/meta.properties" ]; then return; fi
  local id
  id=$(run_java kafka.tools.StorageTool random-uuid)
  run_java kafka.tools.StorageTool format -t "$id" -c "$DATA/server.properties" \
    --ignore-formatted >/dev/null
}

up() {
  fetch
  configure
  format_once
  rm -f "$DATA/ready"
  run_java kafka.Kafka "$DATA/server.properties" &
  BROKER_PID=$!
  trap 'kill -TERM "$BROKER_PID" 2>/dev/null; wait "$BROKER_PID"; exit 0' INT TERM
  local pid=$BROKER_PID
  if ! "$PYTHON" -m shared.admin --bootstrap "127.0.0.1:${PORT}" --partitions "$PARTITIONS" \
      --wait 120; then
    kill -TERM $pid 2>/dev/null || true
    wait $pid || true
    echo "kafka did not come up; see $DATA/app-logs/server.log" >&2
    exit 1
  fi
  touch "$DATA/ready"
  echo "kafka ready on 127.0.0.1:${PORT}" >&2
  wait $pid
}

case "${1:-}" in
  fetch) fetch ;;
  up) up ;;
  *) echo "usage: $0 fetch|up" >&2; exit 2 ;;
esac
