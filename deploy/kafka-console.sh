#!/usr/bin/env bash
# Kafka's own console consumer and producer, from the classpath `make setup` fetched.
#
#   .venv/bin/mash kafka-credentials idva > idva.properties
#   deploy/kafka-console.sh consumer --bootstrap-server 127.0.0.1:9092 \
#       --consumer.config idva.properties --group idva.console \
#       --topic mash.referrals.idva.v1 --from-beginning
#   deploy/kafka-console.sh producer --bootstrap-server ... --producer.config ... --topic ...
#
# Every other argument goes to the tool as is (see its --help). KAFKA_LIBS overrides the
# classpath directory (.data/kafka-libs).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LIBS=${KAFKA_LIBS:-$ROOT/.data/kafka-libs}

case "${1:-}" in
  consumer) main=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
  producer) main=kafka.tools.ConsoleProducer ;;
  *) echo "usage: $0 consumer|producer [the tool's arguments]" >&2; exit 2 ;;
esac
shift
if [ ! -f "$LIBS/.complete" ]; then
  echo "the Kafka classpath is missing: run make setup" >&2
  exit 1
fi
exec java -Xmx256m "-Dlog4j.configuration=file:$ROOT/deploy/log4j-tools.properties" \
  -cp "$LIBS/*" "$main" "$@"
