"""Placeholder demo service: stays up and says where it would send logs.

The real demo (JSON logs to Kafka topic program-logs, with error spikes on demand) is a
separate issue; the stack manager only needs something to build and run here.
"""

import os
import signal
import sys
import time


def main() -> int:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP", "kafka:9092")
    topic = os.environ.get("KAFKA_TOPIC", "program-logs")
    print(f"demo placeholder: would log to {topic} on {bootstrap}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    raise SystemExit(main())
