"""ecs-logging: the stdlib formatter (ECS fields, call site on by default)."""

import logging
import sys

import ecs_logging
from payments import PaymentTimeoutError, payment_ids

handler = logging.StreamHandler(sys.stdout)
handler.setFormatter(ecs_logging.StdlibFormatter())
log = logging.getLogger("payments")
log.addHandler(handler)
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
