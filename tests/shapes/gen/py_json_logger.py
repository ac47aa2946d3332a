"""python-json-logger: the format string names the call site (pathname, lineno)."""

import logging
import sys

from payments import PaymentTimeoutError, payment_ids
from pythonjsonlogger.json import JsonFormatter

handler = logging.StreamHandler(sys.stdout)
handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(pathname)s %(lineno)d %(message)s"))
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
