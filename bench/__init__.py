"""Benchmarks that start the real service and print what they measured."""
