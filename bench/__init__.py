"""Benchmarks on real data; each writes JSON, a PNG and a markdown summary into bench/results/."""
