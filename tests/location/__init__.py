"""Tests of the location services (plain pytest, real HTTP servers on 127.0.0.1)."""
