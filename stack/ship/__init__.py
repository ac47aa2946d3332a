"""Shipping the output of the developer's own containers into program-logs, with no code change.

`config.py` the `[ship]` settings; `choose.py` which containers are followed and their service
name (pure); `stamped.py` Docker's timestamped log lines, split and bounded (pure);
`positions.py` where each container's shipping stands (one file per container id);
`shipper.py` the following (one thread per container), the fair, bounded buffer and the Kafka
producer. Imports the standard library, the Docker SDK, aiokafka and `logtray.pipeline`; never
`logtray.tray`.
"""
