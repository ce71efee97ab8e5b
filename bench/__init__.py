"""Benchmarks of cunwu: ``bench/run [--quick]`` (see README.md, section Performance)."""
