"""Benchmarks and evaluations; each module has ``main(argv) -> int`` and prints its figures."""
