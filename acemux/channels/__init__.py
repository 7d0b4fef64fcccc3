"""Named channels: a name with ordered sources, liveness memory, failover and warm channels."""
