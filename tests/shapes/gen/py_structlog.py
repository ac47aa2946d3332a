"""structlog: JSON with the call site (CallsiteParameterAdder) and the formatted exception."""

import structlog
from payments import PaymentTimeoutError, payment_ids

structlog.configure(
    processors=[
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.CallsiteParameterAdder(
            {
                structlog.processors.CallsiteParameter.PATHNAME,
                structlog.processors.CallsiteParameter.FILENAME,
                structlog.processors.CallsiteParameter.LINENO,
            }
        ),
        structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer(),
    ]
)
log = structlog.get_logger()


def process_payment(payment_id: int) -> None:
    raise PaymentTimeoutError(f"gateway did not answer payment {payment_id} within 3000 ms")


log.info("service started", port=8080)
log.info("payment 4700 accepted")
for payment_id in payment_ids():
    try:
        process_payment(payment_id)
    except PaymentTimeoutError:
        log.exception(f"payment {payment_id} failed")
