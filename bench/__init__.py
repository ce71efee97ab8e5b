"""Benchmarks of cunwu: ``bench/run [--quick]`` (see docs/readme-performance.md)."""
