"""Benchmarks of the runners: latency percentiles, throughput, FLOP/s and GPU utilisation."""
