"""Sinotrack ST-903 simulator: simulated trackers that report to a server over TCP.

It plays the device side of the three protocols the integration serves, so that the
integration can be tried, tested end to end and load-tested without a tracker:

* ``h02``: H02 text. ``V1`` positions
  ``*HQ,<ID>,V1,hhmmss,A,DDMM.MMMM,N,DDDMM.MMMM,E,knots,course,ddmmyy,STATUS,460,0,9520,3671,<battery 1-6>#``
  (UTC; STATUS is the active-low status word: ``FFFFFBFF`` parked with the ignition off)
  and ``*HQ,<ID>,HTBT,<battery %>#`` heartbeats.
* ``h02-binary``: 32-byte ``$`` positions (the ID must have 10 digits); heartbeats and
  command replies are text, as on the device.
* ``jt808``: JT/T 808-2013. On every connection: 0x0100 registration (maker ``SINOT``,
  model ``ST-903``), wait for 0x8100 and its auth code, 0x0102 authentication, wait for
  0x8001. The code is kept across reconnections: a server that answers 0x8100 result 3
  (terminal already registered, no code) gets the code issued earlier (or the one given
  with ``--jt808-auth-code``); without one, the tracker logs why and retries. Then
  0x0200 positions (mileage 0x01, signal 0x30, satellites 0x31, battery 0xE4
  items; times in local time, ``--jt808-utc-offset``, default +8) and 0x0002 heartbeats.

The vehicle drives a built-in 7.7 km loop through Futian, Shenzhen (parked at the start with
the ignition off for six reports, then 0-80 km/h with a red light; see ``route.py``),
one point per report whatever the interval. The odometer starts at ``--mileage`` and
adds the distance driven. An engine stop command stops the vehicle where it is.

Alarms (on demand, on a schedule, or from the library) are carried as:

=================  =========================  ========================================
alarm              H02 status bit (cleared)   JT/T 808 alarm bit
=================  =========================  ========================================
sos                1 and 18                   0
power_cut          19 (on backup battery)     8 (main power off)
overspeed          2                          1
geofence_enter     4                          20, item 0x12 (area 1, direction 0 = in)
geofence_exit      7                          20, item 0x12 (area 1, direction 1 = out)
crash              none: not sent             29 (collision)
=================  =========================  ========================================

H02 has no crash or collision signal (its ``ALRM`` frame knows SOS, low battery and
geofence only), so an H02 tracker refuses a crash alarm with a warning. An alarm stays in
``--alarm-hold`` reports (default 3), then clears; it is reported at once when raised.

Commands are answered as the device does. H02: ``*HQ,<ID>,V4,<code>,<results>,<command
hhmmss or 000000>,<position block>#``, where ``S20`` (engine stop ``1,1`` / resume ``1,0``,
status bit 27 follows), ``S71,..,22,<s>`` (report interval), ``SCF`` (``0,0`` arm /
``1,1`` disarm, status bit 9) and any unknown code answer ``DONE``; ``S32`` (mileage query)
answers the mileage in km; ``CR`` answers, then reports a fresh position. JT/T 808: 0x8300
text -> 0x0001 then a 0x6006 text reply ``OK:<text>``; 0x8105 ``F0``/``F1`` engine
stop/resume -> 0x0001 (status bit 10 follows, and a position report); 0x8201 -> 0x0201
(with the mileage); 0x8103 -> 0x0001 (parameter 0x0029 sets the interval, 0x0001 the
heartbeat); anything else -> 0x0001 with result 3 (unsupported).

While the connection is down the tracker keeps making fixes into a buffer (the last 100),
retrying with exponential backoff (1 s doubling to 30 s, with jitter); after reconnecting it
replays them first (H02: as position frames with their original times; JT/T 808: 0x0704
blind-area batches, type 1), then reports live.

Command line::

    python -m tools.simulator --host 127.0.0.1 --port 5013 --id 4210051415 \\
        [--id ID ... | --count N] [--protocol h02|h02-binary|jt808] [--interval 10] \\
        [--heartbeat 60] [--alarm sos@30] [--alarm power_cut@60,repeat] [--alarm-hold 3] \\
        [--mileage 1234.5] [--battery 100] [--jt808-utc-offset 8] [--jt808-auth-code C] \\
        [--reconnect-after S] [--offline S] [--reconnect-delay 1] [--connect-attempts 5] \\
        [--verbose]

``--count N`` simulates N trackers with consecutive IDs from the first ``--id``, spread
along the route and over the first interval. While it runs, type commands (they apply to
every tracker, or only to the IDs that follow): ``sos``, ``power_cut``, ``crash``,
``overspeed``, ``geofence_enter``, ``geofence_exit``, ``clear [ALARM]``, ``position``,
``heartbeat``, ``disconnect [SECONDS]``, ``burst N``, ``status``, ``help``, ``quit``.
``--verbose`` prints every frame sent (``->``) and received (``<-``). Ctrl-C, SIGTERM or
``quit`` stop it cleanly (exit status 0; end of input does not stop it). A tracker that
cannot make its first connection in ``--connect-attempts`` tries (0: keep trying) gives up,
and the exit status is then 1 (at once when no tracker is left); a tracker that was
connected once keeps reconnecting, like a real one.

Library (asyncio; one task per tracker, the connection's callbacks answer commands)::

    tracker = SimulatedTracker("4210051415", "jt808", "127.0.0.1", 5013, interval=10)
    tracker.start()                      # or: await tracker.run()
    await tracker.wait_connected()
    await tracker.raise_alarm("sos")     # reported at once; False if the protocol cannot
    await tracker.send_burst(1000)       # back to back, each frame distinguishable
    await tracker.stop()

In a burst, frame ``k`` has ``course = k % 360``, a speed of ``1 + k % 100`` knots and a
timestamp one second after the previous frame's. ``on_sent(fix)`` is called right after
every position frame is written (take the send time there) and ``on_command(tracker,
command)`` after every command is answered; counters (``frames_sent``, ``positions_sent``,
``commands_answered``...) and ``connected``, ``position``, ``mileage_km``, ``last_fix``
tell the rest. Give many trackers a ``start_delay`` each so that they do not all connect
in the same instant, as the command line does.
"""

from custom_components.sinotrack.model.geo import haversine_km

from .frames import AlarmKind, Fix, battery_scale
from .route import Route, RoutePoint
from .tracker import (
    HandshakeError,
    ReceivedCommand,
    ScheduledAlarm,
    SimulatedTracker,
    WireProtocol,
)

__all__ = [
    "AlarmKind",
    "Fix",
    "HandshakeError",
    "ReceivedCommand",
    "Route",
    "RoutePoint",
    "ScheduledAlarm",
    "SimulatedTracker",
    "WireProtocol",
    "battery_scale",
    "haversine_km",
]
