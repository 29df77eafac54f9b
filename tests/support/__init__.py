"""What every test suite shares: defaults, sockets, waiting, sample frames, fakes.

Plain modules (no Home Assistant import, usable by the codec, listener, fault and simulator
suites and by the benchmarks):

* :mod:`.defaults`: the loopback address, how long a test waits, the JT/T 808 clock offset.
* :mod:`.net`: ``free_port`` and the other port and raw-socket helpers.
* :mod:`.wait`: ``until(predicate)``, the one polling wait.
* :mod:`.frames`: the sample frames a tracker sends, built without the codec.
* :mod:`.client`: a fake tracker over TCP (``Client``) and a JT/T 808 device on it.
* :mod:`.sink`: ``RecordingSink``, a listener sink that records what it is given.
* :mod:`.listeners`: the listener factory and the check that a closed listener left nothing.
* :mod:`.plugin`: the pytest fixtures built on them (registered by ``tests/conftest.py``).

:mod:`.hass` imports Home Assistant and its test harness: only the suites that run in it
(``tests/integration``, parts of ``tests/faults``) and ``benchmarks/bench_load.py`` use it.
"""
