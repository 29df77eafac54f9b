"""Tests of the tracker simulator (tools.simulator) against a server built on the codec."""
