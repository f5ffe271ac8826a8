"""DL008 load-without-map-location."""

from __future__ import annotations

from typing import Iterator

import libcst as cst

from devlint.engine.facts import FileFacts
from devlint.rules._fixes import replace, with_keyword
from devlint.rules._scope import usable_device
from devlint.rules.base import UNSAFE, Report, Rule


class LoadWithoutMapLocation(Rule):
    code = "DL008"
    name = "load-without-map-location"
    summary = "`torch.load(...)` without `map_location`."
    why = (
        "`torch.load` restores every tensor to the device it was saved from. A checkpoint saved "
        "on a GPU fails to load on a CPU-only machine (`RuntimeError: Attempting to deserialize "
        "object on a CUDA device but torch.cuda.is_available() is False`) and lands on GPU 0 on a "
        "multi-GPU machine, whatever device the program uses."
    )
    fix = "Say where tensors go: `torch.load(path, map_location=device)` (or `map_location='cpu'`)."
    fix_summary = 'add `map_location=` (the file\'s device variable, else `"cpu"`)'
    fix_applicability = "unsafe"
    bad = "state = torch.load('model.pt')\n"
    good = "state = torch.load('model.pt', map_location=device)\n"
    # issue 13: audits of its findings on real code (benchmarks/audit.md) found 13 to 19
    # of 30 FALSE, in classes the engine cannot tell from the loads that fail
    default_enabled = False
    default_off_reason = (
        "In audits of its findings on 29 public PyTorch repositories, 13 to 19 of 30 sampled "
        "(43-63%) were false: a file written earlier in the same run or test by a trainer or "
        "a checkpoint callback and loaded back on the same machine, CPU copies saved on "
        "purpose, committed CPU fixtures and packaged weights, files that hold no tensors. "
        "devlint leaves out loads in dataset code, in code that runs only where an "
        "accelerator is, of files saved earlier in the same function, and in test suites "
        "(`tests/`, `test_*.py`: they run on CI's CPU machines, so what they load loads "
        "there), and reads the files it can name (a literal path, one relative to "
        "`__file__`, a script helper's path that every call gives the same string): one "
        "saved from CPU tensors or holding none loads anywhere and is not reported, one "
        "saved on a GPU is. It cannot tell the rest from the loads that fail, so "
        "turn the rule on where checkpoints cross machines (trained on a GPU, loaded on a "
        "CPU-only machine or another node)."
    )

    def check(self, facts: FileFacts) -> Iterator[Report]:
        for load in facts.loads:
            loc = usable_device(facts, load.device_name, load.node) or '"cpu"'
            msg = (
                f"`{load.call_text}` has no `map_location`: a checkpoint saved on a GPU fails to "
                "load on a CPU-only machine and lands on GPU 0 on a multi-GPU one"
            )
            fix = None
            if isinstance(load.node, cst.Call):
                fixed = with_keyword(load.node, "map_location", loc)
                if fixed is not None:
                    # unsafe: it changes where the checkpoint's tensors land
                    fix = replace(UNSAFE, f"add `map_location={loc}`", load.node, fixed)
            yield self.report(load.node, msg, f"add `map_location={loc}`", fix=fix, asset=load.asset)
