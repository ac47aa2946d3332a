"""What every Python program here fails at: 12 payments that time out."""


class PaymentTimeoutError(Exception):
    pass


def payment_ids() -> range:
    return range(4711, 4723)
