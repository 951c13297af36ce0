"""Benchmarks and evaluations (a package of their own: they drive the services, which the shared
package must never import). Each module has ``main(argv) -> int`` and prints its figures."""
