"""What a log record says, whichever logger wrote it: the one reading both profiles share.

`record.normalize` turns one decoded JSON value (a Kafka message of "program-logs") into a
`NormalizedRecord`: level, message and its template, call site, time, error, service and
logger, and the group key the spike rule counts by. `timestamps.parse_timestamp` reads an ISO
8601 time as riemann.config does. tests/shapes/README.md states the rules exactly; riemann.config
implements the same rules in Clojure, and both are tested on the shape table in tests/shapes/.
`lines` turns a container's output lines into such records: multi-line entries (tracebacks,
stack traces, panics) joined and bounded, plain text's level read (docs/shipping.md).

The lowest room: pure functions over JSON values, importing only the standard library and
orjson. logtray.tray and logtray.stack may import it; it imports neither.
"""
