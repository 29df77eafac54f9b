"""Settings shared by the protocol codec tests.

Hypothesis profiles: ``dev`` (the default, quick), ``ci`` and ``long``; choose one with the
environment variable ``HYPOTHESIS_PROFILE`` (e.g. ``HYPOTHESIS_PROFILE=long make test``). No
example database is written, so a test run leaves no ``.hypothesis/`` directory behind; a
failure prints the falsifying example and a blob for ``@reproduce_failure``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

for _name, _examples in (("dev", 200), ("ci", 1000), ("long", 20000)):
    settings.register_profile(
        _name,
        max_examples=_examples,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
