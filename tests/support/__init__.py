"""Helpers shared by the tests (fixtures of real components, event readers); imported as ``support.NAME``."""
