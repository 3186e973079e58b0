"""asv benchmark suite of fastcavi (run from the repository root: see benchmarks/README.md)."""
