"""Dataset generators (demo, MD-S, MD-M) and benchmarks against peers."""
