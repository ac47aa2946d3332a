"""The alert path up to the decision: receive, parse, decide, keep.

A line on the TCP listener (framing, listener), a record through the lite engine's spike rule
(engine, kafka_source) or a message on the alerts topic (alerts_topic) becomes an Alert
(alert, evidence; json_object decodes a record); the policy decides whether and how it is
shown, the history keeps every one, and kibana builds the Discover link for it. Beside the
spike rule, kind_alerts tells a new or returning kind of error (pipeline/kinds.py) and
kinds_topic keeps the known kinds in Kafka. For a team:
the engine's alerts go to the topic through publisher (both keep their producer up with
producer_task); subscription keeps what one desktop
wants of the topic; dedupe gives every alert its id and shows it once; kafka_diagnosis words
why Kafka refuses us.

May import: logtray.tray.base (and logtray.stack.ports for "port taken" messages). Nothing
here knows about notifications, the tray or Docker.
"""
