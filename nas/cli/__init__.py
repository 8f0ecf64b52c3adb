"""Console entry points: argument parsing only; the work is done by the library."""
