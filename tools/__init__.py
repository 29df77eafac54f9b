"""Development tools of the Sinotrack integration (the tracker simulator: ``tools.simulator``).

The tools use the integration's codec, ``custom_components.sinotrack.protocol``, which
needs no Home Assistant (the integration's package only loads its Home Assistant parts
when Home Assistant is installed).
"""
