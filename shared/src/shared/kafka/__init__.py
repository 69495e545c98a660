"""Kafka: an idempotent producer and a consumer loop that never loses or repeats work.

One module per job:

- `table`: what a service declares (`EVENTS = {type: On(Model, handler)}`) and
  `dispatch`, which validates `event.data` before the handler runs;
- `producer`: `EventProducer`, idempotent with acks=all, recreated when it sticks;
- `inbox`: the SQL that records each consumed event id in the processing transaction,
  so a redelivery is skipped;
- `failures`: which kind of failure an exception is (poison, outage, fault) and the
  dead-letter topic;
- `consumer`: `ConsumerLoop`, the one path from fetch to offset commit. Its module
  docstring answers "where does my handler's exception go?".

Services import the names below from `shared.kafka`.
"""

from shared.kafka.consumer import ConsumerLoop, UnitOfWork
from shared.kafka.failures import Failure, PoisonMessage, classify, describe, is_transient
from shared.kafka.inbox import enter_inbox, enter_inbox_many
from shared.kafka.producer import EventProducer
from shared.kafka.table import BatchHandler, EventTable, Handler, On, dispatch, utc_now

__all__ = [
    "BatchHandler",
    "ConsumerLoop",
    "EventProducer",
    "EventTable",
    "Failure",
    "Handler",
    "On",
    "PoisonMessage",
    "UnitOfWork",
    "classify",
    "describe",
    "dispatch",
    "enter_inbox",
    "enter_inbox_many",
    "is_transient",
    "utc_now",
]
