"""The landmark error analysis (benchmarks/landmarks_error_analysis.py) splits the jaw's
error along and across the true jaw line, in percent of the outer-eye-corner distance."""

import numpy as np
import pytest

from helpers import script_module


def test_jaw_error_is_split_along_and_across_the_line():
    analysis = script_module("benchmarks", "landmarks_error_analysis")
    direction = np.array([0.6, 0.8])              # a straight jaw at an angle, so that x and y mix
    normal = np.array([-0.8, 0.6])
    true = np.zeros((1, 68, 2))
    true[0, :17] = [50.0, 60.0] + np.linspace(0, 160, 17)[:, None] * direction
    true[0, 17:] = np.stack([np.linspace(20, 140, 51), np.linspace(50, 150, 51)], -1)
    true[0, 45] = true[0, 36] + [100.0, 0.0]  # outer eye corners 100 px apart
    moved = true.copy()
    moved[0, :17] += 3.0 * direction + 4.0 * normal   # 3 px along the jaw line, 4 px across it
    result = analysis.analyse(moved, true)
    assert result["jaw_along"] == pytest.approx(3.0) and result["jaw_across"] == pytest.approx(4.0)
    assert result["jaw"] == pytest.approx(5.0) and result["eyes"] == 0 and result["all"] == pytest.approx(5.0 * 17 / 68)
