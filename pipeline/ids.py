"""What an id in a log may be: the reserved item ids and the characters an id may not hold.

The recommender models reserve index 0 for padding and 1 for out-of-vocabulary items, and their
serving vocabulary names those slots `[seqlens:padding]` and `[seqlens:oov]`: the namespace
`[seqlens:...]` belongs to seqlens. An item id of a log in that namespace would pass the
pipeline and training and only fail at export, so the pipeline dead-letters it (`reserved_id`).
The pipeline does not import the models (layering); a test checks the models use these names.

An id holding a control character (NUL, a line break, DEL, ...) is dead-lettered
(`invalid_id`): it would corrupt the one-id-a-line vocabulary files and C-string consumers.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

RESERVED_ID_PREFIX = "[seqlens:"
PADDING_ITEM_ID = "[seqlens:padding]"
OOV_ITEM_ID = "[seqlens:oov]"
RESERVED_ITEM_IDS = (PADDING_ITEM_ID, OOV_ITEM_ID)

# ASCII control characters (C0 and DEL), in the syntax of Arrow's RE2 and Python's `re`.
CONTROL_CHARACTERS = r"[\x00-\x1f\x7f]"


def _mask(values: pa.BooleanArray) -> np.ndarray:
    return pc.fill_null(values, False).to_numpy(zero_copy_only=False)


def has_control_characters(ids: pa.Array) -> np.ndarray:
    """Boolean mask: which ids hold an ASCII control character (nulls: `False`)."""
    return _mask(pc.match_substring_regex(ids, CONTROL_CHARACTERS))


def is_reserved(ids: pa.Array) -> np.ndarray:
    """Boolean mask: which ids are in the reserved `[seqlens:...]` namespace (nulls: `False`)."""
    return _mask(pc.starts_with(ids, RESERVED_ID_PREFIX))
