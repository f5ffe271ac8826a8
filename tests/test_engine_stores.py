"""Precision (issue 13): a container element stored back after a move, from a nested
function (`index[t] = index[t].to(x.device)` in a closure), is the moved tensor there."""

from __future__ import annotations

import textwrap

from devlint.checker import check_source
from devlint.rules import ALL_RULES


def _found(src: str, role: str = "library") -> list[tuple[str, int]]:
    found = check_source(textwrap.dedent(src), "m.py", ALL_RULES, role=role)
    return sorted((f.code, f.line) for f in found)


CLOSURE = """\
    import torch
    def split(x, groups):
        index = {t: torch.LongTensor(ids) for t, ids in groups.items()}
        def pick(t, whole):
            index[t] = index[t].to(whole.device)
            return torch.index_select(whole, 0, index[t])
        return pick(0, x)
    """


def test_a_store_in_a_closure_shadows_the_enclosing_container() -> None:
    assert _found(CLOSURE) == []


def test_without_the_store_the_closure_still_mixes_devices() -> None:
    src = CLOSURE.replace("            index[t] = index[t].to(whole.device)\n", "")
    assert _found(src) == [("DL005", 3)]


def test_the_store_moves_only_what_the_closure_reads_afterwards() -> None:
    # read before the store: still the CPU index
    src = CLOSURE.replace(
        "            return torch.index_select(whole, 0, index[t])\n", ""
    ).replace(
        "            index[t] = index[t].to(whole.device)\n",
        "            y = torch.index_select(whole, 0, index[t])\n"
        "            index[t] = index[t].to(whole.device)\n"
        "            return y\n",
    )
    assert _found(src) == [("DL005", 3)]
