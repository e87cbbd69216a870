"""What the speed benchmarks share: the median wall time of a call, alone or in turn with
others, and a LiteRT interpreter as such a call."""

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


def interleaved_median_ms(runs, repeats, warmup=3):
    """Median milliseconds of each of ``runs`` (a dict of callables), called in turn round
    after round, so that a slow spell of the machine hits every one alike and their ratios
    hold (timed one after the other, a ratio can move by a slow spell alone)."""
    times = {key: [] for key in runs}
    for round_ in range(warmup + repeats):
        for key, run in runs.items():
            start = time.perf_counter()
            run()
            if round_ >= warmup:
                times[key].append((time.perf_counter() - start) * 1000)
    return {key: sorted(t)[len(t) // 2] for key, t in times.items()}


def litert_call(interpreter, inputs):
    """A no-argument call that runs an allocated LiteRT ``interpreter`` on ``inputs``."""
    index = interpreter.get_input_details()[0]["index"]

    def run():
        interpreter.set_tensor(index, inputs)
        interpreter.invoke()

    return run
