"""bench/gpu.py runs on any backend and device (a smoke run here; the figures come from a GPU)."""

import importlib.util

import pytest

from tests.paths import REPO_ROOT

BENCH = REPO_ROOT / "bench" / "gpu.py"


def _load_bench():
    spec = importlib.util.spec_from_file_location("gpu_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_block_flops_match_a_hand_count():
    bench = _load_bench()
    # T=2, D=3, F=3: projections 2*2*4*9=144, attention 2*2*4*3=48, feed-forward 2*2*2*3*3=72
    assert bench.block_training_flops(2, 3, 3) == 3.0 * (144 + 48 + 72)


@pytest.mark.keras_backend
def test_smoke_run_reports_every_figure(tmp_path):
    bench = _load_bench()
    figures = bench.main(
        ["--smoke", "--modes", "large", "blocks", "--precision", "float32", "--work", str(tmp_path)]
    )
    large = figures["large_config_sampled_softmax"]
    assert large["sequences_per_second"] > 0 and large["seconds_per_epoch_implied"] > 0
    blocks = figures["transformer_blocks_large_shape"]
    assert blocks["achieved_tflops"] > 0
    assert figures["device"]["backend"] in ("tensorflow", "jax", "torch")
