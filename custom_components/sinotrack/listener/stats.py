"""What the listener counts for diagnostics, and the bounded keys it counts under."""

from __future__ import annotations

from dataclasses import dataclass, field
import re
from typing import Any, Final

# Why a connection was refused or closed (diagnostics keys).
REFUSED_NOT_ALLOWED: Final = "source not allowed"
REFUSED_TOO_MANY: Final = "too many connections"
REFUSED_TOO_MANY_FROM_SOURCE: Final = "too many connections from the source"
REFUSED_CLOSING: Final = "listener closing"
CLOSED_IDLE: Final = "idle timeout"
CLOSED_HANDSHAKE: Final = "no frame in time"
CLOSED_GARBAGE: Final = "too many rejected frames"
CLOSED_NOT_READING: Final = "peer not reading"
CLOSED_REPLACED: Final = "replaced by a new connection"
CLOSED_LISTENER: Final = "listener closed"
CLOSED_INTERNAL: Final = "internal error"
CLOSED_BY_PEER: Final = "closed by peer"
CLOSED_ERROR: Final = "connection error"
CLOSED_EVICTED: Final = "evicted for a new connection"
CLOSED_MEMORY: Final = "memory budget exceeded"
CLOSED_ID_IN_USE: Final = "ID in use by a live connection"
CLOSED_NETWORK: Final = "source not allowed for this tracker"
CLOSED_UNKNOWN_CAP: Final = "too many connections of unknown trackers"

_MAX_REASONS: Final = 32
_DIGITS: Final = re.compile(r"\d+")


def reason_key(reason: str) -> str:
    """A bounded diagnostics key for a rejection reason (details and numbers dropped)."""
    return _DIGITS.sub("N", reason.split(":", 1)[0])[:80]


def count(counter: dict[str, int], key: str) -> None:
    """Add one under ``key``; past 32 distinct keys, under ``other``."""
    if key in counter or len(counter) < _MAX_REASONS:
        counter[key] = counter.get(key, 0) + 1
    else:
        counter["other"] = counter.get("other", 0) + 1


@dataclass(slots=True)
class Stats:
    """Listener-wide counters (all only grow)."""

    connections_total: int = 0
    reads: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    frames: int = 0
    messages: int = 0
    frame_warnings: int = 0
    rejected_frames: int = 0
    rejected_bytes: int = 0
    replies_sent: int = 0
    throttled: int = 0
    """Reads paused by a connection's byte rate."""
    frame_rate_throttled: int = 0
    """Reads paused because a tracker sent more than ``max_frame_rate`` frames per second."""
    source_throttled: int = 0
    """Reads paused by a source address's byte rate."""
    iteration_deferred: int = 0
    """Reads put off to the next loop iteration (loop budget or a source's share spent)."""
    memory_paused: int = 0
    """Reads paused because the listener held more than its memory budget."""
    memory_closed: int = 0
    """Connections no entry owns closed to bring the held memory under the budget."""
    evicted: int = 0
    """Connections closed to make room for a newcomer when the listener was full."""
    accept_paused: int = 0
    """Times accepting stopped because the process ran out of descriptors (EMFILE/ENFILE)."""
    accept_errors: int = 0
    commands_sent: int = 0
    commands_answered: int = 0
    commands_timed_out: int = 0
    commands_expired: int = 0
    commands_disconnected: int = 0
    commands_refused_full: int = 0
    replies_other_session: int = 0
    """Replies to a command in flight that came from another connection (ignored)."""
    values_dropped: int = 0
    """Out-of-range values the codec dropped from decoded messages."""
    sessions_replaced: int = 0
    id_takeovers: int = 0
    takeovers_refused: int = 0
    """Connections refused because the ID's live connection was still reporting."""
    network_refused: int = 0
    """Connections refused because the tracker's allowed networks do not hold the source."""
    auth_codes_issued: int = 0
    auth_refused: int = 0
    registrations_refused: int = 0
    unknown_trackers: int = 0
    discovery_not_digits: int = 0
    """Unknown IDs not offered because they are not digits only."""
    discovery_rate_limited: int = 0
    """Unknown IDs not offered because their source introduced 3 new IDs this hour."""
    refused: dict[str, int] = field(default_factory=dict)
    closed: dict[str, int] = field(default_factory=dict)
    rejected_reasons: dict[str, int] = field(default_factory=dict)


def diagnostics(
    stats: Stats,
    *,
    serving: bool,
    addresses: list[str],
    config: dict[str, Any],
    current: int,
    identified: int,
    waiting: int,
    budgets: dict[str, int],
    trackers: dict[str, Any],
) -> dict[str, Any]:
    """The listener's diagnostics: every counter, grouped for a reader."""
    return {
        "serving": serving,
        "addresses": addresses,
        "config": config,
        "connections": {
            "current": current,
            "identified": identified,
            "unidentified": budgets["unidentified"],
            "unknown": budgets["unknown"],
            "total": stats.connections_total,
            "evicted": stats.evicted,
            "refused": dict(stats.refused),
            "closed": dict(stats.closed),
        },
        "accept": {"paused": stats.accept_paused, "errors": stats.accept_errors},
        "traffic": {
            "reads": stats.reads,
            "bytes_in": stats.bytes_in,
            "bytes_out": stats.bytes_out,
            "frames": stats.frames,
            "messages": stats.messages,
            "frame_warnings": stats.frame_warnings,
            "values_dropped": stats.values_dropped,
            "replies_sent": stats.replies_sent,
            "throttled": stats.throttled,
            "frame_rate_throttled": stats.frame_rate_throttled,
            "source_throttled": stats.source_throttled,
            "iteration_deferred": stats.iteration_deferred,
        },
        "memory": {
            "held_bytes": budgets["held_bytes"],
            "budget": budgets["memory_budget"],
            "paused": stats.memory_paused,
            "closed": stats.memory_closed,
        },
        "rejected": {
            "frames": stats.rejected_frames,
            "bytes": stats.rejected_bytes,
            "reasons": dict(stats.rejected_reasons),
        },
        "commands": {
            "sent": stats.commands_sent,
            "answered": stats.commands_answered,
            "timed_out": stats.commands_timed_out,
            "expired": stats.commands_expired,
            "disconnected": stats.commands_disconnected,
            "refused_queue_full": stats.commands_refused_full,
            "replies_from_other_connection": stats.replies_other_session,
            "waiting": waiting,
        },
        "spoofing": {
            "takeovers_refused": stats.takeovers_refused,
            "network_refused": stats.network_refused,
        },
        "jt808_auth": {
            "codes_issued": stats.auth_codes_issued,
            "refused": stats.auth_refused,
            "registrations_refused": stats.registrations_refused,
        },
        "discovery": {
            "offered": stats.unknown_trackers,
            "not_digits": stats.discovery_not_digits,
            "rate_limited": stats.discovery_rate_limited,
        },
        "sessions_replaced": stats.sessions_replaced,
        "id_takeovers": stats.id_takeovers,
        "unknown_trackers": stats.unknown_trackers,
        "trackers": trackers,
    }
