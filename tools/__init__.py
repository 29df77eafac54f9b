"""Development tools of the Sinotrack integration.

``tools.simulator`` is the tracker simulator; ``tools.devhass`` runs a real Home Assistant with
the integration and the simulator (``make run``, ``make screenshot``, the end-to-end tests).
``tools.net`` has the port probes (``free_port``) the tools, the tests and the benchmarks share.

The tools use the integration's codec, ``custom_components.sinotrack.protocol``, which
needs no Home Assistant (the integration's package only loads its Home Assistant parts
when Home Assistant is installed).
"""
