"""Reference implementations in other simulators, for cross-checks and speed benchmarks."""
