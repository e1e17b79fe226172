"""Durable live state: the Redis event stream, live hashes, snapshots, recovery, intake."""
