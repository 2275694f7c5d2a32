"""Tool-call correctness: how well the predicted calls match the ground-truth calls.

:func:`call_correctness` gives the maximum for equal call lists, the minimum where the released code
fails (a predicted call that is not an object or has no ``"name"``; an unhashable name under Jaccard
matching; a call named like a ground-truth call whose arguments are missing or not an object), and
fine-grained partial credit in between.

The partial credit (``spec/REWARD.md``): ``match(A, B)`` is 1 for equal lists, 0 if either is empty,
else the multiset Jaccard index. The name term is ``match(gt names, predicted names)``; then each
ground-truth call ``g`` adds ``1 + len(g.args)`` to the denominator and, for the predicted call of the
same name chosen for it, ``match(keys) + #equal values`` to the numerator. The released code chooses
greedily in ground-truth order (``matching="greedy"``); ``matching="optimal"`` chooses the assignment
with the largest total (the paper's Figure 3).

Values compare with Python's ``==`` on the decoded JSON (``values="exact"``: ``1 == 1.0 == True``,
``"1" != 1``), or with ``values="lenient"``: each value is first brought to a canonical form —
strings are stripped and case-folded; strings that read as a finite number, and numbers and booleans,
become floats (so ``"1" == 1 == 1.0 == True``); ``"true"``/``"false"`` become 1.0/0.0; lists and
objects are compared element-wise with their keys kept exactly. Names and keys are never relaxed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

ValueEq = Callable[[Any, Any], bool]


def canonical_value(value: Any) -> Any:
    """The lenient canonical form of a JSON value (see the module docstring).

    >>> canonical_value(" Paris "), canonical_value("1"), canonical_value(True), canonical_value([1, "2.0"])
    ('paris', 1.0, 1.0, (1.0, 2.0))
    """
    if isinstance(value, str):
        text = value.strip().casefold()
        if text in ("true", "false"):
            return float(text == "true")
        try:
            number = float(text)
        except ValueError:
            return text
        return number if math.isfinite(number) else text
    if isinstance(value, (bool, int, float)):
        try:
            return float(value)
        except OverflowError:  # an integer too large for a float stays exact
            return value
    if isinstance(value, list):
        return tuple(canonical_value(item) for item in value)
    if isinstance(value, dict):
        return {key: canonical_value(item) for key, item in value.items()}
    return value


def exact_eq(a: Any, b: Any) -> bool:
    """Python's ``==`` on decoded JSON, as the released reward compares values.

    >>> exact_eq(1, 1.0), exact_eq(True, 1), exact_eq("1", 1)
    (True, True, False)
    """
    return a == b


def lenient_eq(a: Any, b: Any) -> bool:
    """Equality after :func:`canonical_value`.

    >>> lenient_eq({"city": "Paris", "n": "3"}, {"city": "paris ", "n": 3}), lenient_eq("1", "2")
    (True, False)
    """
    return a == b or canonical_value(a) == canonical_value(b)


VALUE_EQUALITIES: dict[str, ValueEq] = {"exact": exact_eq, "lenient": lenient_eq}


def match_score(a: Sequence[Any], b: Sequence[Any], exact_lists: bool = False) -> float:
    """The released ``match_score``: 1.0 for equal lists, 0.0 if either is empty, else the multiset
    Jaccard index (raises TypeError on unhashable items). With ``exact_lists``: 1.0 if equal, else 0.0.

    >>> match_score(["a", "b"], ["b", "a"]), match_score(["a", "a"], ["a"]), match_score([], ["a"])
    (1.0, 0.5, 0.0)
    >>> match_score(["a", "b"], ["b", "a"], exact_lists=True)
    0.0
    """
    if a == b:
        return 1.0
    if exact_lists or not a or not b:
        return 0.0
    remaining: dict[Any, int] = {}
    for item in a:
        remaining[item] = remaining.get(item, 0) + 1
    common = 0
    for item in b:
        left = remaining.get(item, 0)
        if left:
            remaining[item] = left - 1
            common += 1
    return common / (len(a) + len(b) - common)


def calls_equal(gt: dict, pred: Any, key: str, value_eq: ValueEq) -> bool:
    """Whole-call equality: Python ``==``, or ``value_eq`` on the argument values.

    >>> calls_equal(
    ...     {"name": "f", "parameters": {"n": 1}}, {"name": "f", "parameters": {"n": "1"}}, "parameters", lenient_eq
    ... )
    True
    """
    if gt == pred:
        return True
    if value_eq is exact_eq or not isinstance(pred, dict) or gt.keys() != pred.keys():
        return False
    return all(
        _arguments_equal(gt_value, pred[field], value_eq) if field == key else gt_value == pred[field]
        for field, gt_value in gt.items()
    )


def lists_equal(gt: Sequence[Any], pred: Sequence[Any], key: str, value_eq: ValueEq) -> bool:
    """Equal call lists (same order), comparing argument values with ``value_eq``.

    >>> f = {"name": "f", "parameters": {"n": 1}}
    >>> lists_equal([f], [{"name": "f", "parameters": {"n": "1"}}], "parameters", exact_eq)
    False
    >>> lists_equal([f], [{"name": "f", "parameters": {"n": "1"}}], "parameters", lenient_eq)
    True
    """
    if value_eq is exact_eq:
        return tuple(gt) == tuple(pred)  # a no-op conversion for the tuples the parser returns
    return len(gt) == len(pred) and all(calls_equal(g, p, key, value_eq) for g, p in zip(gt, pred, strict=True))


def _pair_value(
    gt_call: dict, pred_call: dict, key: str, exact_lists: bool, whole_call: bool, value_eq: ValueEq
) -> float | None:
    """Credit of a same-named predicted call for a ground-truth call (None: the released code raises).

    Partial credit is ``match(keys) + #equal values``; ``whole_call`` gives 1.0 for an equal call, else 0.
    """
    if whole_call:
        return 1.0 if calls_equal(gt_call, pred_call, key, value_eq) else 0.0
    pred_args = pred_call.get(key)
    if not isinstance(pred_args, dict):
        return None
    gt_args = gt_call[key]
    score = match_score(list(gt_args), list(pred_args), exact_lists)
    values = 0
    if value_eq is exact_eq:  # the default, inlined: this loop is the reward's innermost
        for name, value in gt_args.items():
            if name in pred_args and pred_args[name] == value:
                values += 1.0
    else:
        for name, value in gt_args.items():
            if name in pred_args and value_eq(pred_args[name], value):
                values += 1.0
    return score + values


def _greedy(
    gt: Sequence[dict], pred: Sequence[dict], key: str, exact_lists: bool, whole_call: bool, value_eq: ValueEq
) -> list[float] | None:
    """The released loop: each ground-truth call in order takes the unused same-named prediction with the
    highest credit above 0 (ties: the earliest; ``whole_call``: the first equal one)."""
    used: set[int] = set()
    gains = []
    for gt_call in gt:
        name, best, best_index = gt_call["name"], 0.0, -1
        for index, pred_call in enumerate(pred):
            if index in used or pred_call["name"] != name:
                continue
            value = _pair_value(gt_call, pred_call, key, exact_lists, whole_call, value_eq)
            if value is None:
                return None
            if value > best:
                best, best_index = value, index
                if whole_call:
                    break
        if best_index >= 0:
            used.add(best_index)
        gains.append(best)
    return gains


def _optimal(
    gt: Sequence[dict], pred: Sequence[dict], key: str, exact_lists: bool, whole_call: bool, value_eq: ValueEq
) -> list[float] | None:
    """Maximum-weight assignment of predicted calls to ground-truth calls (SciPy's
    ``linear_sum_assignment``; when no two ground-truth calls have the same best prediction, each takes it).

    Only each ground-truth call's ``len(gt)`` best candidates can be part of an optimal assignment, so the
    matrix stays ``G x G²`` however many calls were predicted.
    """
    rows: list[list[tuple[int, float]]] = []
    for gt_call in gt:
        candidates = []
        for index, pred_call in enumerate(pred):
            if pred_call["name"] == gt_call["name"]:
                value = _pair_value(gt_call, pred_call, key, exact_lists, whole_call, value_eq)
                if value is None:
                    return None
                if value > 0:
                    candidates.append((index, value))
        rows.append(candidates)
    size = len(rows)
    kept = [sorted(candidates, key=lambda item: -item[1])[:size] for candidates in rows]
    best = [candidates[0] for candidates in kept if candidates]
    if len({p_index for p_index, _ in best}) == len(best):  # no two calls want the same prediction most
        return [candidates[0][1] if candidates else 0.0 for candidates in kept]
    # Imported here: only matching="optimal" needs it, and scipy.optimize takes over a second to import,
    # which the default reward (imported by every verl worker and command) should not pay.
    from scipy.optimize import linear_sum_assignment

    columns = sorted({p_index for candidates in kept for p_index, _ in candidates})
    column_of = {p_index: c for c, p_index in enumerate(columns)}
    weight = [[0.0] * len(columns) for _ in range(size)]
    for g_index, candidates in enumerate(kept):
        for p_index, score in candidates:
            weight[g_index][column_of[p_index]] = score
    gains = [0.0] * size  # a ground-truth call left without a column (more rows than columns) gains 0
    for g_index, column in zip(*linear_sum_assignment(weight, maximize=True), strict=True):
        gains[g_index] = weight[g_index][column]
    return gains


def call_correctness(
    gt: Sequence[dict],
    pred: Sequence[Any] | None,
    low: float,
    high: float,
    key: str = "parameters",
    *,
    exact_lists: bool = False,
    whole_call: bool = False,
    optimal: bool = False,
    value_eq: ValueEq = exact_eq,
) -> float:
    """Correctness in [low, high]: ``high`` when the call lists are equal, ``low`` when the prediction
    has no complete block (``pred`` is None) or the released code fails on it, else
    ``(high - low) · score / S + low``. ``gt`` is non-empty and validated.

    >>> gt = [{"name": "f", "parameters": {"a": 1, "b": 2}}]
    >>> call_correctness(gt, gt, -3.0, 3.0), call_correctness(gt, [{"name": "f", "parameters": {"a": 1}}], -3.0, 3.0)
    (3.0, 0.75)
    >>> call_correctness(gt, [{"name": "f"}], -3.0, 3.0)
    -3.0
    """
    if pred is None:
        return low
    if lists_equal(gt, pred, key, value_eq):
        return high
    pred_names = []
    for call in pred:
        if not isinstance(call, dict) or "name" not in call:
            return low
        pred_names.append(call["name"])
    try:
        score = match_score([c["name"] for c in gt], pred_names, exact_lists)
    except TypeError:  # an unhashable predicted name: the released Counter raises
        return low
    gains = (_optimal if optimal else _greedy)(gt, pred, key, exact_lists, whole_call, value_eq)
    if gains is None:
        return low
    total = 1.0
    for call in gt:
        total += 1.0 if whole_call else 1.0 + len(call[key])
    for gain in gains:
        score += gain
    return (high - low) * score / total + low


def same_calls(gt: Sequence[dict], pred: Sequence[Any], key: str, value_eq: ValueEq = exact_eq) -> bool:
    """Multiset equality of (name, arguments) pairs, order ignored (the ``binary`` variant).

    >>> f, g = {"name": "f", "parameters": {}}, {"name": "g", "parameters": {"x": 1}}
    >>> same_calls([f, g], [g, f], "parameters"), same_calls([f, g], [f, f], "parameters")
    (True, False)
    """
    if len(gt) != len(pred):
        return False
    unused = list(pred)
    for call in gt:
        for position, other in enumerate(unused):
            if (
                isinstance(other, dict)
                and other.get("name") == call["name"]
                and _arguments_equal(call[key], other.get(key), value_eq)
            ):
                del unused[position]
                break
        else:
            return False
    return True


def _arguments_equal(gt_args: dict, pred_args: Any, value_eq: ValueEq) -> bool:
    return (
        isinstance(pred_args, dict)
        and gt_args.keys() == pred_args.keys()
        and all(value_eq(pred_args[k], v) for k, v in gt_args.items())
    )
