"""Change keys: the names of what changed in a tracker's state.

Besides these, every message parameter (``protocol.message`` names) is a change key: the
value of that name changed. Entities subscribe to the keys they show.
"""

from __future__ import annotations

from typing import Final

KEY_POSITION: Final = "position"
"""The position shown (latitude, longitude, accuracy, fix time)."""
KEY_LAST_SEEN: Final = "last_seen"
"""The "last seen" time, when it is written (see ``LAST_SEEN_RESOLUTION``)."""
KEY_ONLINE: Final = "online"
KEY_CONNECTED: Final = "connected"
"""A TCP session of the tracker came up or went down."""
KEY_ODOMETER: Final = "odometer"
KEY_DISTANCE: Final = "distance"
KEY_VEHICLE_STATE: Final = "vehicle_state"
KEY_MOVING: Final = "moving"
KEY_ALARM: Final = "alarm"
"""Alarm events rose (the update's ``alarms``)."""
KEY_CELL_POSITION: Final = "cell_position"
"""The position shown became a cell's (latitude, longitude, accuracy, fix time): not
``KEY_POSITION``, so that what follows GPS movement (distance, trips, the guard) never
takes a cell for a move."""
KEY_POSITION_SOURCE: Final = "position_source"
"""Where the position shown comes from changed (``gps`` or ``cell``)."""
