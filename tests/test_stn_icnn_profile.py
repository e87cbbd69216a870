"""The STN-iCNN profile's convolution table (benchmarks/stn_icnn_profile.py --convs): every
convolution of the iCNNs counted once, with its work at the batch the model runs it at."""

import keras
import pytest

from helpers import script_module, small_stn


@pytest.fixture(scope="module")
def profile():
    return script_module("benchmarks", "stn_icnn_profile")


def _two_row_brows_stn():
    # two rows; both brows through one part network, which therefore runs at batch 2
    brows = [{"name": "r_brow", "classes": ["r_brow"], "model": "brow"},
             {"name": "l_brow", "classes": ["l_brow"], "model": "brow", "flip": True}]
    return small_stn(channels=(4, 8), parts=brows)


def test_every_convolution_is_counted_once_with_its_work_at_its_batch(profile):
    model = _two_row_brows_stn()
    calls = []

    def time(layer, batch):  # a stand-in timer: 1 ms per face in TensorFlow, 2 in TFLite
        calls.append((layer.name, batch))
        return {"tf_function": 1.0 * batch, "tflite_fp32": 2.0 * batch}

    rows = profile.conv_rows(model, time)
    convs = {net.name: [layer for layer in net.layers if isinstance(layer, keras.layers.Conv2D)]
             for net in (model.stage1, *model.part_models)}
    assert len(calls) == sum(len(layers) for layers in convs.values())
    assert {batch for name, batch in calls} == {1, 2}  # stage 1 once, the brow network for both brows
    assert set(rows) == {f"{net.split('_')[0]} -> {layer.filters} channels" for net, layers in convs.items()
                         for layer in layers}
    expected = profile.conv_macs(model)
    parts = sum(row["gmac"] for name, row in rows.items() if name.startswith("part"))
    stage1 = sum(row["gmac"] for name, row in rows.items() if name.startswith("stage1"))
    assert abs(parts * 1e9 - expected["part iCNNs"]) < 1 and abs(stage1 * 1e9 - expected["stage-1 iCNN"]) < 1
    part_rows = [row for name, row in rows.items() if name.startswith("part")]
    assert sum(row["tf_function"] for row in part_rows) == 2.0 * len(convs["part_brow"])
    assert all(row["tflite_fp32"] == 2 * row["tf_function"] for row in rows.values())


@pytest.mark.large  # a TFLite export per convolution: about 30 s even for this tiny network
def test_the_convolution_timer_times_both_runtimes(profile, tmp_path):
    rows = profile.conv_rows(_two_row_brows_stn(), profile.conv_timer(threads=1, repeats=1, folder=str(tmp_path)))
    assert all(row["tf_function"] > 0 and row["tflite_fp32"] > 0 for row in rows.values())
