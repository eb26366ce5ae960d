"""`seqlens train recommender` and `seqlens evaluate recommender`.

Heavy imports (keras) happen inside the handlers, so `seqlens --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def _optional_int(text: str) -> int | None:
    return None if text.lower() in ("none", "0", "") else int(text)


def _load_data(path: str):
    """An events run folder (the pipeline's Parquet), or a SASRec `user item` text file."""
    from models.recommender.sequence_data import load_sequence_data, read_sasrec_text

    source = Path(path)
    if source.is_file():
        return read_sasrec_text(source)
    return load_sequence_data(source)


def _optional_float(text: str) -> float | None:
    return None if text.lower() in ("none", "") else float(text)


def register(commands) -> None:
    """Add `train recommender` and `evaluate recommender` (see `seqlens.cli.CommandGroups`)."""
    from models.recommender.config import RecommenderConfig

    defaults = RecommenderConfig()
    train = commands.group("train").add_parser(
        "recommender",
        help="train the attention sequential recommender (SASRec family) or a GRU4Rec baseline",
        description="Train on an events run folder (sequences/ + vocab/) or a SASRec user-item text file.",
    )
    train.add_argument(
        "--data", required=True, help="events run folder, or a SASRec `user item` .txt file"
    )
    train.add_argument("--output", required=True, help="model folder to write")
    train.add_argument("--model", choices=("sasrec", "gru4rec"), default=defaults.model)
    train.add_argument(
        "--precision",
        choices=("float32", "mixed_bfloat16", "mixed_float16"),
        default=defaults.precision,
    )
    train.add_argument("--epochs", type=int, default=defaults.epochs)
    train.add_argument("--seed", type=int, default=defaults.seed)
    train.add_argument(
        "--loss", choices=("softmax", "sampled_softmax", "bce"), default=defaults.loss
    )
    train.add_argument(
        "--num-negatives",
        type=int,
        default=defaults.num_negatives,
        help="shared negatives per batch for --loss sampled_softmax",
    )
    train.add_argument("--num-blocks", type=int, default=defaults.num_blocks)
    train.add_argument("--num-heads", type=int, default=defaults.num_heads)
    train.add_argument(
        "--hidden-dim", "--embedding-dim", dest="hidden_dim", type=int, default=defaults.hidden_dim
    )
    train.add_argument("--max-length", type=int, default=defaults.max_length)
    train.add_argument(
        "--attention-window",
        type=_optional_int,
        default=defaults.attention_window,
        help="local attention window (positions); none = full causal attention",
    )
    train.add_argument("--dropout", type=float, default=defaults.dropout)
    train.add_argument(
        "--batch-size",
        type=int,
        default=defaults.batch_size,
        help="full-length sequences per batch (batches hold batch_size * max_length positions)",
    )
    train.add_argument(
        "--exclude-history-from-loss",
        action=argparse.BooleanOptionalAction,
        default=defaults.exclude_history_from_loss,
        help="full softmax: leave each position's history items out of the normaliser",
    )
    train.add_argument(
        "--output-bias",
        action=argparse.BooleanOptionalAction,
        default=defaults.output_bias,
        help="add a learned per-item bias to every item's score",
    )
    train.add_argument(
        "--pairwise-weight",
        type=float,
        default=defaults.pairwise_weight,
        help="full softmax: add this many times a BPR term against one uniformly sampled "
        "item per position; 0 = none",
    )
    train.add_argument(
        "--label-smoothing",
        type=float,
        default=defaults.label_smoothing,
        help="full softmax: train against (1 - e) * one-hot + e * uniform, which holds an item "
        "that is never a target at probability e / V instead of sinking it; 0 = none",
    )
    train.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    train.add_argument(
        "--weight-decay",
        type=float,
        default=defaults.weight_decay,
        help="decoupled (AdamW) weight decay of the embeddings and kernels; 0 = none",
    )
    train.add_argument(
        "--adam-epsilon",
        type=float,
        default=defaults.adam_epsilon,
        help="Adam's epsilon; larger values stop Adam from scaling the tiny gradients of rarely "
        "seen items up to full-size steps",
    )
    train.add_argument(
        "--ema-momentum",
        type=_optional_float,
        default=defaults.ema_momentum,
        help="validate, keep and serve a moving average of the weights with this momentum "
        "(e.g. 0.999); none = the weights themselves",
    )
    train.add_argument(
        "--learning-rate-decay-epochs",
        type=_optional_int,
        default=defaults.learning_rate_decay_epochs,
        help="cosine-decay the learning rate to 1%% over this many epochs; none = constant",
    )
    train.add_argument(
        "--patience",
        type=int,
        default=defaults.patience,
        help="epochs without a better validation NDCG@10 before stopping",
    )
    train.add_argument(
        "--validation-users",
        type=_optional_int,
        default=defaults.validation_users,
        help="early stopping monitors this many users' validation targets (seeded sample); none = all",
    )
    train.add_argument(
        "--train-on-unmonitored-validation",
        action=argparse.BooleanOptionalAction,
        default=defaults.train_on_unmonitored_validation,
        help="train on the validation targets of the users early stopping does not monitor "
        "(see --validation-users); --no-... = SASRec's protocol, none trained on",
    )
    train.add_argument(
        "--train-every-position",
        action=argparse.BooleanOptionalAction,
        default=defaults.train_every_position,
        help="cut histories longer than --max-length into windows so every position is trained on; "
        "--no-... = only the last --max-length positions of each history (SASRec's original)",
    )
    train.add_argument(
        "--flash-attention",
        choices=("auto", "on", "off"),
        default="off",
        help="MultiHeadAttention flash attention (on needs a GPU backend)",
    )
    train.add_argument("--jit-compile", choices=("auto", "on", "off"), default="auto")
    train.add_argument(
        "--resume", action="store_true", help="continue from the folder's checkpoint"
    )
    train.set_defaults(handler=run_train)

    evaluate = commands.group("evaluate").add_parser(
        "recommender",
        help="rank the test targets (full and sampled100 protocols) for the model and the baselines",
        description="Writes metrics.json: HR@{1,5,10,20}, NDCG@{5,10,20}, MRR per protocol and model.",
    )
    evaluate.add_argument("--model", required=True, help="trained recommender folder")
    evaluate.add_argument(
        "--data", required=True, help="events run folder, or a SASRec `user item` .txt file"
    )
    evaluate.add_argument("--output", help="metrics file (default: MODEL/metrics.json)")
    evaluate.add_argument(
        "--compare",
        nargs="*",
        default=[],
        help="other trained model folders to report beside (e.g. a GRU4Rec or BCE run)",
    )
    evaluate.add_argument("--split", choices=("test", "valid"), default="test")
    evaluate.add_argument("--k", type=int, default=10, help="cut-off of the headline metrics")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the sampled100 negatives")
    evaluate.set_defaults(handler=run_evaluate)


def _tri_state(value: str):
    return {"auto": None, "on": True, "off": False}[value]


def run_train(args: argparse.Namespace) -> int:
    from models.recommender.config import RecommenderConfig
    from models.recommender.training import train_recommender

    config = RecommenderConfig(
        model=args.model,
        hidden_dim=args.hidden_dim,
        num_blocks=args.num_blocks,
        num_heads=args.num_heads,
        max_length=args.max_length,
        attention_window=args.attention_window,
        dropout=args.dropout,
        loss=args.loss,
        exclude_history_from_loss=args.exclude_history_from_loss,
        output_bias=args.output_bias,
        pairwise_weight=args.pairwise_weight,
        label_smoothing=args.label_smoothing,
        ema_momentum=args.ema_momentum,
        adam_epsilon=args.adam_epsilon,
        num_negatives=args.num_negatives,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        learning_rate_decay_epochs=args.learning_rate_decay_epochs,
        weight_decay=args.weight_decay,
        epochs=args.epochs,
        patience=args.patience,
        seed=args.seed,
        precision=args.precision,
        flash_attention=_tri_state(args.flash_attention),
        jit_compile="auto" if args.jit_compile == "auto" else args.jit_compile == "on",
        validation_users=args.validation_users,
        train_on_unmonitored_validation=args.train_on_unmonitored_validation,
        train_every_position=args.train_every_position,
    )
    data = _load_data(args.data)
    _, history = train_recommender(
        data, args.output, config, resume=args.resume, data_run=str(args.data)
    )
    if history:
        best = max(history, key=lambda entry: entry["valid/full/NDCG@10"])
        print(
            f"best epoch {best['epoch']}: valid full NDCG@10 {best['valid/full/NDCG@10']:.4f}; model in {args.output}"
        )
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from models.recommender.evaluation import evaluate_recommender_folder
    from models.recommender.ranking_metrics import HIT_CUTOFFS, NDCG_CUTOFFS

    if args.k not in HIT_CUTOFFS or args.k not in NDCG_CUTOFFS:
        raise ValueError(
            f"Expected --k in (5, 10, 20), the reported cut-offs. Received: k={args.k}"
        )
    output = Path(args.output) if args.output else Path(args.model) / "metrics.json"
    report = evaluate_recommender_folder(
        args.model,
        _load_data(args.data),
        args.compare,
        args.split,
        args.k,
        args.seed,
        data_run=str(args.data),
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2))
    headline = report["headline"]
    k = args.k
    print(
        f"{args.split} targets ({report['users']} users): full NDCG@{k} {headline[f'full/NDCG@{k}']:.4f}, "
        f"sampled100 NDCG@{k} {headline[f'sampled100/NDCG@{k}']:.4f}, HR@{k} {headline[f'sampled100/HR@{k}']:.4f}; "
        f"written to {output}"
    )
    return 0
