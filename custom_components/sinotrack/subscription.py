"""One subscriber of a runtime or trip log: one small object, which is its own unsubscribe.

A tracker has dozens of entities, each subscribed to its runtime or trip log: a slotted
object in a list costs less than a closure and a dictionary slot each.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import Any


class Subscription[S: Callable[..., Any]]:
    """``subscriber`` and the keys it watches, in ``subscriptions``; calling it
    unsubscribes."""

    __slots__ = ("keys", "subscriber", "subscriptions")

    def __init__(
        self,
        keys: frozenset[str],
        subscriber: S,
        subscriptions: list[Subscription[S]],
    ) -> None:
        self.keys = keys
        self.subscriber = subscriber
        self.subscriptions = subscriptions
        subscriptions.append(self)

    def __call__(self) -> None:
        """End the subscription (once; a second call does nothing)."""
        with suppress(ValueError):
            self.subscriptions.remove(self)
