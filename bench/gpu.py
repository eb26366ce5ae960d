"""GPU benchmark of the recommender: Games default config, a large config, and the blocks alone.

Needs only the project, numpy/pyarrow and Keras (plus the backend: JAX or PyTorch on the GPU
machines, which have no TensorFlow; TensorFlow or JAX on the CPU development machine).

Three measurements, all on the current Keras backend and its default device:

- `games`: the default `RecommenderConfig` trained on SASRec's Games data (a pipeline run folder
  from `seqlens pipeline events --format sasrec`, or `Games.txt` itself) for `--epochs` epochs:
  seconds per epoch, training sequences per second, validation NDCG@10 (full ranking) per epoch.
- `large`: hidden 256, 4 blocks, 4 heads, `max_length` 200, a synthetic catalogue of
  `--large-items` (1,000,000 by default) items with sampled softmax (log-Q corrected); timed
  over `--large-steps` training steps: sequences per second and the implied seconds per epoch.
- `blocks`: the Transformer blocks alone (same large shape) trained on random inputs: achieved
  TFLOP/s from the analytic FLOP count (below) against the GPU's bf16 dense peak.

`--cpu-reference` re-runs each measurement in a subprocess pinned to the CPU (`JAX_PLATFORMS=cpu`,
`CUDA_VISIBLE_DEVICES=""`) with fewer steps, for the same run's GPU/CPU ratio.

FLOPs of one block, one sequence of length `T`, width `D`, feed-forward width `F`, forward pass:
`2*T*4*D*D` (Q, K, V, output projections) + `2*2*T*T*D` (scores and weighted values; the causal
mask is applied to a full `T x T` product) + `2*2*T*D*F` (feed-forward); training = 3x forward.

Usage (GPU machine, JAX):
`KERAS_BACKEND=jax python bench/gpu.py --data DATA --precision mixed_bfloat16`.
Smoke run anywhere: `python bench/gpu.py --smoke`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
import typing
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Dense bf16 tensor-core peak (TFLOP/s, no sparsity) from NVIDIA's data sheets (SXM parts).
BF16_PEAK_TFLOPS = {"H100": 989.4, "H200": 989.4, "A100": 312.0, "L4": 121.0}


def device_description() -> dict:
    """Backend, device kind and name of the first accelerator (or the CPU)."""
    import keras

    backend = keras.backend.backend()
    name = platform.processor() or platform.machine()
    kind = "cpu"
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        kind, name = device.platform, getattr(device, "device_kind", str(device))
    elif backend == "torch":
        import torch

        if torch.cuda.is_available():
            kind, name = "gpu", torch.cuda.get_device_name(0)
    elif backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            kind, name = (
                "gpu",
                tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU"),
            )
    return {
        "backend": backend,
        "device_kind": kind,
        "device_name": name,
        "cpu_count": os.cpu_count(),
    }


def peak_memory_bytes() -> int | None:
    """Peak accelerator memory in use so far, where the backend reports it."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        stats = jax.devices()[0].memory_stats() or {}
        return stats.get("peak_bytes_in_use")
    if backend == "torch":
        import torch

        return torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None
    if backend == "tensorflow":
        import tensorflow as tf

        if tf.config.list_physical_devices("GPU"):
            return tf.config.experimental.get_memory_info("GPU:0")["peak"]
    return None


def block_training_flops(sequence_length: int, hidden_dim: int, feed_forward_dim: int) -> float:
    """FLOPs of one training step (forward + backward = 3x forward) of one block, one sequence."""
    t, d, f = sequence_length, hidden_dim, feed_forward_dim
    forward = 2 * t * 4 * d * d + 2 * 2 * t * t * d + 2 * 2 * t * d * f
    return 3.0 * forward


def load_games(data: Path):
    """The Games sequences from a pipeline run folder or from `Games.txt`."""
    from models.recommender.sequence_data import load_sequence_data, read_sasrec_text

    return read_sasrec_text(data) if data.is_file() else load_sequence_data(data)


def synthetic_catalogue(num_items: int, num_users: int, max_length: int, seed: int):
    """`num_users` Zipf-distributed sequences over `num_items` items, as `SequenceData`."""
    from models.recommender.sequence_data import (
        ITEM_INDEX_OFFSET,
        SequenceData,
        leave_one_out_positions,
    )

    rng = np.random.default_rng(seed)
    lengths = rng.integers(max_length // 2, max_length + 3, size=num_users)
    ranks = rng.zipf(1.2, size=int(lengths.sum())) % num_items
    sequences = np.split((ranks + ITEM_INDEX_OFFSET).astype(np.int32), np.cumsum(lengths)[:-1])
    valid, test = leave_one_out_positions(lengths)
    return SequenceData(
        item_ids=[f"i{index}" for index in range(num_items)],
        sequences=list(sequences),
        valid_positions=valid,
        test_positions=test,
        user_ids=[f"u{u}" for u in range(num_users)],
    )


def run_games(data_path: Path, epochs: int, precision: str, output: Path) -> dict:
    """Train the default config on Games for `epochs` epochs; per-epoch time and NDCG@10."""
    from models.recommender.config import RecommenderConfig
    from models.recommender.training import train_recommender

    data = load_games(data_path)
    config = RecommenderConfig(epochs=epochs, patience=epochs, precision=precision)
    _, history = train_recommender(data, output / "games", config, verbose=0)
    epoch_seconds = [entry["train_seconds"] for entry in history]
    steady = epoch_seconds[1:] or epoch_seconds  # the first epoch includes compilation
    sequences = len(data.training_sequences())
    return {
        "training_sequences": sequences,
        "epochs": len(history),
        "seconds_per_epoch_first_including_compile": epoch_seconds[0],
        "seconds_per_epoch_steady": float(np.mean(steady)),
        "sequences_per_second": sequences / float(np.mean(steady)),
        "valid_full_ndcg_at_10_per_epoch": [entry["valid/full/NDCG@10"] for entry in history],
        "peak_memory_bytes": peak_memory_bytes(),
    }


class ModelShape(typing.NamedTuple):
    """The sizes the `large` and `blocks` modes time (`SMOKE_SHAPE` only checks the script runs)."""

    hidden_dim: int
    num_blocks: int
    num_heads: int
    sequence_length: int
    batch_size: int


LARGE_SHAPE = ModelShape(
    hidden_dim=256, num_blocks=4, num_heads=4, sequence_length=200, batch_size=128
)
SMOKE_SHAPE = ModelShape(hidden_dim=16, num_blocks=2, num_heads=2, sequence_length=12, batch_size=8)


def run_large(
    num_items: int,
    num_users: int,
    steps: int,
    precision: str,
    seed: int,
    shape: ModelShape = LARGE_SHAPE,
) -> dict:
    """Time `steps` sampled-softmax training steps of the large config on a synthetic catalogue."""
    import keras

    from models.recommender.config import RecommenderConfig
    from models.recommender.sequence_batches import NextItemBatches
    from models.recommender.training import build_model

    config = RecommenderConfig(
        hidden_dim=shape.hidden_dim,
        num_blocks=shape.num_blocks,
        num_heads=shape.num_heads,
        max_length=shape.sequence_length,
        loss="sampled_softmax",
        batch_size=shape.batch_size,
        precision=precision,
        seed=seed,
    )
    data = synthetic_catalogue(num_items, num_users, config.max_length, seed)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        keras.utils.set_random_seed(seed)
        model = build_model(config, data.vocabulary_size)
        batches = NextItemBatches(
            data.training_sequences(),
            config.max_length,
            data.vocabulary_size,
            config.tokens_per_batch,
            config.loss,
            seed,
            config.num_negatives,
            data.item_counts(),
        )
        batches.set_epoch(0)
        steps = min(steps, len(batches))
        model.train_on_batch(*batches[0])  # compile
        sequences = 0
        started = time.perf_counter()
        for index in range(1, steps + 1):
            inputs, targets = batches[index % len(batches)]
            model.train_on_batch(inputs, targets)
            sequences += len(inputs)
        keras.ops.convert_to_numpy(model.item_embedding.embeddings[:1])  # wait for the device
        seconds = time.perf_counter() - started
    finally:
        keras.config.set_dtype_policy(previous)
    per_second = sequences / seconds
    return {
        "catalogue_items": num_items,
        "users": num_users,
        "timed_steps": steps,
        "sequences_per_second": per_second,
        "seconds_per_epoch_implied": len(data.training_sequences()) / per_second,
        "peak_memory_bytes": peak_memory_bytes(),
    }


def run_blocks(
    batch_size: int, steps: int, precision: str, seed: int, shape: ModelShape = LARGE_SHAPE
) -> dict:
    """Train the large config's Transformer blocks alone on random inputs; achieved TFLOP/s."""
    import keras

    from models.layers.attention_blocks import CausalSelfAttentionBlock

    hidden_dim, num_blocks, num_heads = shape.hidden_dim, shape.num_blocks, shape.num_heads
    length = shape.sequence_length
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        keras.utils.set_random_seed(seed)
        inputs = keras.Input((length, hidden_dim))
        mask = keras.Input((length,), dtype="bool")
        hidden = inputs
        blocks = []
        for index in range(num_blocks):
            block = CausalSelfAttentionBlock(
                hidden_dim, num_heads, 0.0, None, None, name=f"block_{index}"
            )
            blocks.append(block)
            hidden = block(hidden, mask)
        model = keras.Model(
            [inputs, mask], keras.layers.Activation("linear", dtype="float32")(hidden)
        )
        model.compile(optimizer="adam", loss="mse", jit_compile="auto")
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((batch_size, length, hidden_dim)).astype(np.float32)
        m = np.ones((batch_size, length), dtype=bool)
        y = rng.standard_normal((batch_size, length, hidden_dim)).astype(np.float32)
        model.train_on_batch([x, m], y)  # compile
        started = time.perf_counter()
        for _ in range(steps):
            loss = model.train_on_batch([x, m], y)
        float(np.asarray(loss).ravel()[0])
        seconds = time.perf_counter() - started
    finally:
        keras.config.set_dtype_policy(previous)
    feed_forward_dim = hidden_dim * blocks[0].feed_forward_multiplier
    flops = (
        block_training_flops(length, hidden_dim, feed_forward_dim) * num_blocks * batch_size * steps
    )
    return {
        "batch_size": batch_size,
        "timed_steps": steps,
        "seconds": seconds,
        "achieved_tflops": flops / seconds / 1e12,
        "flops_per_step": flops / steps,
    }


def cpu_reference(arguments: argparse.Namespace) -> dict:
    """The same measurements in a CPU-only subprocess, with fewer steps."""
    environment = dict(os.environ, JAX_PLATFORMS="cpu", CUDA_VISIBLE_DEVICES="")
    command = [
        sys.executable,
        __file__,
        "--cpu-child",
        "--precision",
        "float32",
        "--epochs",
        "1",
        "--large-steps",
        str(max(2, arguments.large_steps // 10)),
        "--large-items",
        str(arguments.large_items),
        "--large-users",
        str(arguments.large_users),
        "--block-steps",
        str(max(2, arguments.block_steps // 10)),
        "--modes",
        *arguments.modes,
    ]
    if arguments.data:
        command += ["--data", str(arguments.data)]
    if arguments.smoke:
        command.append("--smoke")
    result = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    if result.returncode != 0:
        return {"error": result.stderr[-2000:]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=ROOT.parent / "shared/data/sasrec-games/Games.txt",
        help="pipeline run folder or Games.txt",
    )
    parser.add_argument(
        "--modes",
        nargs="+",
        default=["games", "large", "blocks"],
        choices=["games", "large", "blocks"],
    )
    parser.add_argument(
        "--precision",
        default="mixed_bfloat16",
        choices=["float32", "mixed_bfloat16", "mixed_float16"],
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--large-items", type=int, default=1_000_000)
    parser.add_argument("--large-users", type=int, default=50_000)
    parser.add_argument("--large-steps", type=int, default=50)
    parser.add_argument("--block-steps", type=int, default=50)
    parser.add_argument("--block-batch", type=int, default=256)
    parser.add_argument(
        "--cpu-reference", action="store_true", help="also run on the CPU for the ratio"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the script runs")
    parser.add_argument("--cpu-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, default=ROOT / "bench/results/gpu.json")
    parser.add_argument("--work", type=Path, default=ROOT / "bench/work/gpu")
    arguments = parser.parse_args(argv)
    shape = SMOKE_SHAPE if arguments.smoke else LARGE_SHAPE
    if arguments.smoke:
        arguments.large_items, arguments.large_users = 5_000, 256
        arguments.large_steps, arguments.block_steps, arguments.block_batch = 3, 2, 8
        arguments.epochs = 1
        if not arguments.data.exists():
            arguments.modes = [mode for mode in arguments.modes if mode != "games"]
    figures: dict = {"device": device_description(), "precision": arguments.precision}
    if "games" in arguments.modes:
        figures["games_default_config"] = run_games(
            arguments.data, arguments.epochs, arguments.precision, arguments.work
        )
    if "large" in arguments.modes:
        figures["large_config_sampled_softmax"] = run_large(
            arguments.large_items,
            arguments.large_users,
            arguments.large_steps,
            arguments.precision,
            seed=0,
            shape=shape,
        )
    if "blocks" in arguments.modes:
        blocks = run_blocks(
            arguments.block_batch, arguments.block_steps, arguments.precision, seed=0, shape=shape
        )
        name = figures["device"]["device_name"]
        peak = next((value for key, value in BF16_PEAK_TFLOPS.items() if key in str(name)), None)
        blocks["bf16_peak_tflops"] = peak
        blocks["share_of_bf16_peak"] = blocks["achieved_tflops"] / peak if peak else None
        figures["transformer_blocks_large_shape"] = blocks
    if arguments.cpu_child:
        print(json.dumps(figures))
        return figures
    if arguments.cpu_reference:
        reference = cpu_reference(arguments)
        figures["cpu_reference_same_run"] = reference
        for key in ("games_default_config", "large_config_sampled_softmax"):
            if key in figures and key in reference:
                field = (
                    "seconds_per_epoch_steady"
                    if key.startswith("games")
                    else "seconds_per_epoch_implied"
                )
                cpu_field = (
                    "seconds_per_epoch_first_including_compile"
                    if key.startswith("games")
                    else field
                )
                figures[key]["cpu_over_gpu_seconds_per_epoch"] = (
                    reference[key][cpu_field] / figures[key][field]
                )
    figures["command"] = " ".join(
        ["python", "bench/gpu.py", *(argv if argv is not None else sys.argv[1:])]
    )
    figures["date"] = datetime.date.today().isoformat()
    if not arguments.smoke:
        arguments.output.parent.mkdir(parents=True, exist_ok=True)
        arguments.output.write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
