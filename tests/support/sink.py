"""A listener sink that records what it is given."""

from __future__ import annotations

from custom_components.sinotrack.listener import IPNetwork
from custom_components.sinotrack.protocol import Message, TrackerSettings, message as p


class RecordingSink:
    """A TrackerSink that records what it is given; ``settings`` and ``networks`` are its say."""

    def __init__(
        self, settings: TrackerSettings | None = None, networks: tuple[IPNetwork, ...] = ()
    ) -> None:
        self.frames: list[list[Message]] = []
        self.messages: list[Message] = []
        self.connections: list[tuple[bool, str | None]] = []
        self.settings = settings or TrackerSettings()
        self.networks = networks
        self.auth_codes: list[str] = []
        self.refused_registrations: list[str] = []

    def tracker_settings(self) -> TrackerSettings:
        """The tracker's settings (its JT/T 808 clock offset and auth code)."""
        return self.settings

    @property
    def allowed_networks(self) -> tuple[IPNetwork, ...]:
        """Where the tracker may connect from (empty: anywhere)."""
        return self.networks

    def auth_code_issued(self, code: str) -> None:
        """Keep the JT/T 808 auth code issued, as Home Assistant does."""
        self.auth_codes.append(code)
        self.settings = TrackerSettings(self.settings.jt808_utc_offset, code)

    def registration_refused(self, peer: str) -> None:
        """Record the peer whose registration was refused."""
        self.refused_registrations.append(peer)

    def handle_messages(self, messages: list[Message]) -> None:
        """Record one frame's messages."""
        self.frames.append(messages)
        self.messages.extend(messages)

    def connection_changed(self, connected: bool, peer: str | None) -> None:
        """Record a connection or disconnection."""
        self.connections.append((connected, peer))

    def types(self) -> list[str]:
        """The ``message.type`` of every message so far."""
        return [str(message[p.MESSAGE_TYPE]) for message in self.messages]

    @property
    def positions(self) -> int:
        """How many messages so far carried a position."""
        return sum(1 for message in self.messages if p.LATITUDE in message)


class OffsetSink(RecordingSink):
    """A sink with its own JT/T 808 clock offset."""

    def __init__(self, jt808_utc_offset: float) -> None:
        super().__init__(TrackerSettings(jt808_utc_offset=jt808_utc_offset))
