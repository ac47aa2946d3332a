"""What a log record says, whichever logger wrote it: the one reading both profiles share.

`record.normalize` turns one decoded JSON value (a Kafka message of "program-logs") into a
`NormalizedRecord`: level, message and its template, call site, time, error, service and
logger, and the group key the spike rule counts by. `timestamps.parse_timestamp` reads an ISO
8601 time as riemann.config does. `frames` reads the frames of an error's stack (Python, Node,
Java, Go, Rust, .NET) and finds the first of the user's own code. `shapes.shape_of` names the
logger's convention a record follows, and `census.Census` tallies a sample of the topic per
service (what `logtray doctor` tells). tests/shapes/README.md states the rules of `record`
exactly; riemann.config implements the same rules in Clojure, and both are tested on the shape
table in tests/shapes/. `kinds` says which kind of error a record is (type, message template,
the user's frame) and decides what a kind's occurrence tells (new, regressed, learned, a
burst); tests/kind_cases.md states its rules, tests/kind_cases.json is the table both profiles
run.
`lines` turns a container's output lines into such records: multi-line entries (tracebacks,
stack traces, panics) joined and bounded, plain text's level read (docs/shipping.md).

The lowest room: pure functions over JSON values, importing only the standard library and
orjson. logtray.tray and logtray.stack may import it; it imports neither.
"""
