"""asv benchmark suite of fastcavi (run from benchmarks/: see benchmarks/README.md)."""
