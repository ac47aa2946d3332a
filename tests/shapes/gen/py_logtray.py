"""logtray's own handler (stack/kafka_handler.py): the record shape the rule was written for.

Written to stdout with the handler's own encoding instead of to Kafka."""

import logging
import sys

from logtray.stack.kafka_handler import encode_record
from payments import PaymentTimeoutError, payment_ids


class StdoutJSONHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        sys.stdout.buffer.write(encode_record(record, "payments", "vm") + b"\n")


log = logging.getLogger("payments")
log.addHandler(StdoutJSONHandler())
log.setLevel(logging.INFO)


def process_payment(payment_id: int) -> None:
    raise PaymentTimeoutError(f"gateway did not answer payment {payment_id} within 3000 ms")


log.info("service started")
log.info("payment 4700 accepted")
for payment_id in payment_ids():
    try:
        process_payment(payment_id)
    except PaymentTimeoutError:
        log.exception("payment %d failed", payment_id)
