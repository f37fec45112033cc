"""Prometheus metrics, in a registry owned by one app (no process globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["Metrics"]


class Metrics:
    """Every metric the gateway exports at ``/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.commands = Counter(
            "chatgate_commands",
            "Commands dispatched",
            ["command", "transport", "outcome"],
            registry=r,
        )
        self.command_seconds = Histogram(
            "chatgate_command_seconds",
            "Command latency",
            ["command"],
            registry=r,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.connections = Gauge("chatgate_connections", "Open WebSocket sessions", registry=r)
        self.published_events = Counter(
            "chatgate_published_events",
            "Channel messages this node handed to the broker (an event to two rooms counts twice)",
            registry=r,
        )
        self.publish_batches = Counter(
            "chatgate_publish_batches",
            "Batches of them sent (a Redis pipeline per node and loop iteration)",
            registry=r,
        )
        self.broker_messages = Counter(
            "chatgate_broker_messages", "Payloads the broker handed to this node", registry=r
        )
        self.deliveries = Counter(
            "chatgate_deliveries", "Events handed to local sessions", registry=r
        )
        self.duplicates = Counter(
            "chatgate_duplicate_events", "Events dropped as already delivered", registry=r
        )
        self.gaps = Counter(
            "chatgate_gap_backfills",
            "Rooms that backfilled a missing seq from storage",
            registry=r,
        )
        self.resyncs = Counter(
            "chatgate_room_resyncs",
            "Rooms read again from storage after the broker may have lost messages",
            registry=r,
        )
        self.slow_consumers = Counter(
            "chatgate_slow_consumers", "Sessions closed with 4008 (slow consumer)", registry=r
        )
        self.frames_in = Counter(
            "chatgate_frames_received", "WebSocket frames received", registry=r
        )
        self.frames_out = Counter(
            "chatgate_frames_sent", "WebSocket frames sent (a batch counts once)", registry=r
        )
        self.rate_limited = Counter(
            "chatgate_rate_limited", "Requests refused by a rate limit", ["scope"], registry=r
        )
        self.rate_limiter_errors = Counter(
            "chatgate_rate_limiter_errors",
            "Requests let through because the rate limiter could not be reached",
            registry=r,
        )

        self.webhook_deliveries = Counter(
            "chatgate_outbox_attempts",
            "Outbox rows worked: webhook and live-agent attempts, timers run, by outcome",
            ["target", "result"],
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
