"""Stream framer: arbitrary TCP chunks in, whole frames out.

One port serves both protocols; the framer decides per connection from the first bytes
that look like the start of a frame: ``*XX,`` or a ``$`` frame whose time and date are
valid BCD mean H02, ``0x7E`` means JT/T 808. Until then, bytes are skipped as garbage.

Rules, after the protocol is known:

* H02 text: ``*`` through the first ``#``; ``\\r``/``\\n`` between frames are ignored. A
  ``*`` with no ``#`` within ``max_frame`` bytes is dropped and the framer resynchronises
  on the next marker.
* H02 binary ``$``: the length (32, 45, 46 or 48 bytes with a 5-byte ID, 42 with an
  8-byte ID) is the candidate that is followed by another frame marker, or that ends
  exactly at the end of the data received. A length confirmed by a following marker is
  remembered for the connection and tried first. This does not depend on the size of
  the first read.
* ``X`` frames are 32 bytes; they carry nothing this codec decodes.
* JT/T 808: from one ``0x7E`` to the next; ``7E 7E`` is the end of one frame and the start
  of the next. A frame longer than the protocol allows is dropped.

Garbage costs one :class:`Skipped` per run, not per byte: resynchronising looks for the
next place a frame can start (a ``$`` or ``X`` only where a valid hour byte follows) with
one search, and a ``*`` that no ``#`` follows within ``max_frame`` skips every ``*`` that
cannot end in time either. Work stays linear in the bytes received.

Memory is bounded: after :meth:`Framer.feed` returns, at most ``max_frame`` bytes are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
import re
from typing import Final, Literal

from .h02 import BINARY_LENGTHS, BINARY_LONG_ID_LENGTH, binary_id_length
from .message import PROTOCOL_H02, PROTOCOL_JT808

type FrameKind = Literal["h02-text", "h02-binary", "h02-x", "jt808"]

MAX_TEXT_FRAME: Final = 4096
"""Default longest H02 text frame (a blind-spot batch or an SMS reply can be long)."""
MAX_JT808_FRAME: Final = 2 * (1023 + 21 + 1) + 2
"""Longest escaped JT/T 808 frame: 1023-byte body, 2019 header with sub-package item."""

_STAR: Final = 0x2A
_DOLLAR: Final = 0x24
_X: Final = 0x58
_TILDE: Final = 0x7E
_HASH: Final = b"#"
_H02_MARKERS: Final = frozenset((_STAR, _DOLLAR, _X))
_QUIET: Final = frozenset(b"\r\n\t \x00")
_DOLLAR_START: Final = rb"\$(?=.{5}[\x00-\x23]|.{8}[\x00-\x23]|.{0,13}\Z)"
_X_START: Final = rb"X(?=.{5}[\x00-\x23]|.{0,30}\Z)"
_BINARY_START: Final = re.compile(_DOLLAR_START + rb"|" + _X_START, re.DOTALL)
"""Where a binary H02 frame may start: ``$`` or ``X`` followed by a possible hour (BCD
00-23) where the 5- or 8-byte ID layout has it, or too close to the end to tell.
Resynchronising with it skips a run of garbage markers in one search."""
_H02_START: Final = re.compile(rb"\*|" + _DOLLAR_START + rb"|" + _X_START, re.DOTALL)
"""Where any H02 frame may start: ``*`` or a binary frame start."""
_DETECT_START: Final = re.compile(rb"~|\*(?=..,|.{0,2}\Z)|" + _DOLLAR_START, re.DOTALL)
"""Where detection may find a first frame: ``~``, ``*XX,``, or a ``$`` as above."""


@dataclass(slots=True)
class Frame:
    """One whole frame. JT808 data is the escaped content between the delimiters."""

    kind: FrameKind
    data: bytes


@dataclass(slots=True)
class Skipped:
    """Bytes that were not part of any frame, with the reason."""

    reason: str
    size: int
    sample: bytes
    """The first bytes skipped (at most 32), for a log line."""


class Framer:
    """Sans-I/O framer for one connection."""

    __slots__ = ("_binary_length", "_buffer", "_final", "max_frame", "protocol")

    def __init__(self, protocol: str | None = None, *, max_frame: int = MAX_TEXT_FRAME) -> None:
        self.protocol = protocol
        self.max_frame = max(max_frame, 64)
        self._buffer = b""
        self._binary_length = 0
        self._final = False

    @property
    def buffered(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buffer)

    def flush(self) -> list[Frame | Skipped]:
        """Decide what waits for more data: call when the peer has gone quiet.

        Only the first ``$`` frame of a connection can wait for it: whether 32 bytes are a
        whole frame or the start of a 45-byte one is known from what follows. When nothing
        follows, the data received is taken as whole.
        """
        if not self._buffer:
            return []
        self._final = True
        try:
            return self.feed(b"")
        finally:
            self._final = False

    def feed(self, data: bytes) -> list[Frame | Skipped]:
        """Add received bytes; return the frames (and skipped garbage) now complete."""
        buffer = self._buffer + data if self._buffer else bytes(data)
        out: list[Frame | Skipped] = []
        if self.protocol is None:
            start = self._detect(buffer, out)
            if self.protocol is None:
                self._buffer = buffer[start:]
                return out
        else:
            start = 0
        if self.protocol == PROTOCOL_H02:
            start = self._split_h02(buffer, start, out)
        else:
            start = self._split_jt808(buffer, start, out)
        rest = buffer[start:]
        if len(rest) > self.max_frame:  # pragma: no cover - the splitters never leave this much
            out.append(Skipped("buffer limit", len(rest), rest[:32]))
            rest = b""
        self._buffer = rest
        return out

    # -- protocol detection -------------------------------------------------------------

    def _detect(self, buffer: bytes, out: list[Frame | Skipped]) -> int:
        """Find the first frame start; set ``protocol``. Returns where to continue."""
        size = len(buffer)
        position = 0
        while position < size:
            byte = buffer[position]
            if byte == _TILDE:
                self.protocol = PROTOCOL_JT808
                break
            if byte == _STAR:
                if position + 4 > size:
                    break
                if buffer[position + 3] == 0x2C:  # *XX,
                    self.protocol = PROTOCOL_H02
                    break
            elif byte == _DOLLAR:
                if position + 15 > size:
                    break
                if binary_id_length(buffer, position):
                    self.protocol = PROTOCOL_H02
                    break
            marker = _DETECT_START.search(buffer, position + 1)
            position = size if marker is None else marker.start()
        if position:
            self._skip(buffer[:position], "garbage before the first frame", out)
        if self.protocol is None and size - position > self.max_frame:
            self._skip(buffer[position:], "no frame start found", out)
            return size
        return position

    @staticmethod
    def _skip(data: bytes, reason: str, out: list[Frame | Skipped]) -> None:
        if data and not _QUIET.issuperset(data):
            out.append(Skipped(reason, len(data), data[:32]))

    # -- H02 ----------------------------------------------------------------------------

    def _split_h02(self, buffer: bytes, position: int, out: list[Frame | Skipped]) -> int:
        size = len(buffer)
        max_frame = self.max_frame
        junk = -1  # start of the run of garbage being skipped (one Skipped for the run)
        junk_reason = ""
        no_hash_before = 0  # no '#' was found before this index (searched already)
        while position < size:
            byte = buffer[position]
            if byte == _STAR:
                end = buffer.find(
                    _HASH,
                    position + 1 if no_hash_before <= position else no_hash_before,
                    position + max_frame,
                )
                if end < 0:
                    if size - position < max_frame:
                        break
                    no_hash_before = position + max_frame
                    if junk < 0:
                        junk, junk_reason = position, "text frame too long"
                    # No '*' more than max_frame before the next '#' can end within the
                    # limit either: skip those at once, stopping only where a binary frame
                    # may start.
                    hash_at = buffer.find(_HASH, no_hash_before)
                    text_from = (size if hash_at < 0 else hash_at) - max_frame + 1
                    binary = _BINARY_START.search(buffer, position + 1, text_from)
                    position = max(position + 1, text_from) if binary is None else binary.start()
                    continue
                start = buffer.rfind(b"*", position + 1, end)
                if start > position and start + 3 < end and buffer[start + 3] == 0x2C:
                    # A new frame began before this one ended: the first was cut short.
                    if junk < 0:
                        junk, junk_reason = position, "truncated text frame"
                    position = start
                if junk >= 0:
                    self._skip(buffer[junk:position], junk_reason, out)
                    junk = -1
                out.append(Frame("h02-text", buffer[position : end + 1]))
                position = end + 1
                continue
            elif byte == _DOLLAR:
                length = self._binary_frame_length(buffer, position)
                if length < 0:
                    break
                if length:
                    if junk >= 0:
                        self._skip(buffer[junk:position], junk_reason, out)
                        junk = -1
                    out.append(Frame("h02-binary", buffer[position : position + length]))
                    position += length
                    continue
                reason = "invalid binary frame"
            elif byte == _X:
                if size - position < 32:
                    break
                if binary_id_length(buffer, position) == 5:
                    if junk >= 0:
                        self._skip(buffer[junk:position], junk_reason, out)
                        junk = -1
                    out.append(Frame("h02-x", buffer[position : position + 32]))
                    position += 32
                    continue
                reason = "garbage between frames"
            else:
                reason = "garbage between frames"
            if junk < 0:
                junk, junk_reason = position, reason
            marker = _H02_START.search(buffer, position + 1)
            position = size if marker is None else marker.start()
        if junk >= 0:
            self._skip(buffer[junk:position], junk_reason, out)
        return position

    def _binary_frame_length(self, buffer: bytes, position: int) -> int:
        """Length of the ``$`` frame at ``position``: -1 need more data, 0 not a frame."""
        available = len(buffer) - position
        if available < 15:
            return -1
        id_length = binary_id_length(buffer, position)
        if id_length == 0:
            return 0
        candidates: tuple[int, ...] = (BINARY_LONG_ID_LENGTH,) if id_length == 8 else BINARY_LENGTHS
        remembered = self._binary_length if id_length == 5 else 0
        if remembered:
            # The connection's length is known (a device does not change its format): a
            # byte that looks like a marker inside the frame must not cut it short.
            return remembered if available >= remembered else -1
        for length in candidates:
            if available > length:
                follows = self._frame_starts_at(buffer, position + length)
                if follows is None:
                    return -1  # too few bytes after it to tell
                if follows:
                    if id_length == 5:
                        self._binary_length = length
                    return length
        if available in candidates:
            if available == candidates[0] and id_length == 5:
                if not self._final:
                    return -1  # 32 bytes: a whole frame, or the start of a 45-byte one?
                self._binary_length = available  # the peer went quiet after a whole frame
            return available
        if available > candidates[-1]:
            # Nothing confirms a length: take the shortest one.
            return candidates[0]
        return -1

    def _frame_starts_at(self, buffer: bytes, index: int) -> bool | None:
        """Whether an H02 frame starts at ``index``; None when too few bytes tell.

        A lone marker byte is not enough: inside a binary frame, a satellite count of 36
        is a ``$``. The header that follows the marker must be valid too.
        """
        marker = buffer[index]
        if marker not in _H02_MARKERS:
            return False
        needed = 4 if marker == _STAR else 15
        if len(buffer) - index < needed:
            return True if self._final else None
        if marker == _STAR:
            return buffer[index + 3] == 0x2C
        id_length = binary_id_length(buffer, index)
        return id_length == 5 or (id_length == 8 and marker == _DOLLAR)

    # -- JT/T 808 -----------------------------------------------------------------------

    def _split_jt808(self, buffer: bytes, position: int, out: list[Frame | Skipped]) -> int:
        size = len(buffer)
        limit = min(self.max_frame, MAX_JT808_FRAME)
        while position < size:
            start = buffer.find(b"\x7e", position)
            if start < 0:
                self._skip(buffer[position:], "garbage between frames", out)
                return size
            if start > position:
                self._skip(buffer[position:start], "garbage between frames", out)
            end = buffer.find(b"\x7e", start + 1, start + limit)
            if end < 0:
                if size - start >= limit:
                    self._skip(buffer[start : start + limit], "JT808 frame too long", out)
                    position = start + limit
                    continue
                return start
            if end == start + 1:  # 7E 7E: the first one closed a frame we never saw
                position = end
                continue
            out.append(Frame("jt808", buffer[start + 1 : end]))
            position = end + 1
        return position
