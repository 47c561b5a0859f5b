"""The configuration -> row index of a table: built in one pass, duplicates named with their rows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from blackbox_repo.blackbox import BlackboxMetadata, TabularBlackbox
from blackbox_repo.search_space import Categorical, SearchSpace


def _table(xs: list[str], ys: list[int]) -> TabularBlackbox:
    objectives = np.arange(len(xs), dtype=np.float32).reshape(len(xs), 1, 1, 1)
    space = SearchSpace({"x": Categorical(sorted(set(xs))), "y": Categorical(sorted(set(ys)))})
    return TabularBlackbox(pd.DataFrame({"x": xs, "y": ys}), objectives, space, ["loss"],
                           BlackboxMetadata("rows", "loss"))


def test_rows_of_distinct_configurations():
    table = _table(["a", "b", "a", "c"], [1, 1, 2, 1])
    assert [table.row({"x": x, "y": y}) for x, y in [("c", 1), ("a", 2), ("a", 1), ("b", 1)]] == [3, 2, 0, 1]


def test_duplicate_configuration_is_named_with_both_rows():
    table = _table(["a", "b", "a", "a"], [1, 1, 2, 1])
    with pytest.raises(ValueError, match=r"\{'x': 'a', 'y': 1\} appears twice \(rows 0 and 3\)"):
        table.row({"x": "b", "y": 1})
