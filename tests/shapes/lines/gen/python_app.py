"""A Python service's plain-text output: the logging module's default and a timestamped format,
an exception logged with its cause, an exception group, and an uncaught chained exception."""

import logging
import sys

logging.basicConfig(stream=sys.stdout, level=logging.INFO)  # "LEVEL:name:message"
log = logging.getLogger("payments")
timed = logging.getLogger("gateway")
timed.propagate = False
handler = logging.StreamHandler(sys.stdout)
handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
timed.addHandler(handler)


class PaymentTimeoutError(Exception):
    pass


def charge(payment: int) -> None:
    try:
        {}["gateway"]
    except KeyError as error:
        raise PaymentTimeoutError(
            f"gateway did not answer payment {payment} within 3000 ms"
        ) from error


log.info("service started")
print("no errors found in 3 files, error_count=0", flush=True)
for payment in (4711, 4712):
    try:
        charge(payment)
    except PaymentTimeoutError:
        log.exception("payment %d failed", payment)
timed.warning("retrying payment 4713")
try:
    charge(4713)
except PaymentTimeoutError:
    timed.exception("payment 4713 failed")
checks = [ValueError("amount"), TypeError("currency")]
try:
    raise ExceptionGroup("two checks failed", checks)  # noqa: F821  (Python 3.11)
except ExceptionGroup:  # noqa: F821
    log.exception("validation failed")
sys.stdout.flush()


def settle() -> None:
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        charge(4714)


settle()
