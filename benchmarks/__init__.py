"""Benchmarks and their data generators. Run from the repository root as ``python -m benchmarks.NAME``
(they import logkit as installed, and each other as ``benchmarks.*``)."""
