"""Side-by-side benchmarks of charlstm against the seed's method (DLwP 8.1); `python -m bench --help`.

Every section measures the seed and charlstm in the same run on the same machine and reports
absolute numbers and ratios. Results go to docs/benchmarks.md (+ .json and a loss-vs-time PNG).
"""
