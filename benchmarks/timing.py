"""What the speed benchmarks share: the median wall time of a call."""

import time


def median_ms(run, repeats, warmup=3):
    """Median milliseconds of ``repeats`` calls of ``run()``, after ``warmup`` untimed ones
    (compilation, caches)."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)[len(times) // 2]
