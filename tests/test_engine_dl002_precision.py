"""DL002 precision (issue 13): one hard-coded accelerator per flow, guards by NCCL, and
private helpers whose hard-coded default no call uses."""

from __future__ import annotations

import textwrap

import libcst as cst

from devlint.checker import check_source
from devlint.engine.flow import analyze
from devlint.engine.options import EngineOptions
from devlint.positions import positions_of
from devlint.roles import LIBRARY, SCRIPT
from devlint.rules import RULES_BY_CODE


def hardcoded_lines(src: str, notebook: bool = False, role: str = SCRIPT) -> list[int]:
    text = "import torch\nimport torch.nn as nn\nimport torch.distributed as dist\n"
    text += textwrap.dedent(src)
    module = cst.parse_module(text)
    facts = analyze(module, text, options=EngineOptions(notebook=notebook, role=role))
    where = positions_of(module, [h.node for h in facts.hardcoded])
    return sorted(where[id(h.node)].start.line for h in facts.hardcoded)


def test_a_later_hard_coded_device_in_the_same_flow_is_the_same_defect() -> None:
    assert hardcoded_lines(
        """
        def run(batches):
            model = nn.Linear(4, 2).cuda()
            center = torch.zeros(2, device="cuda")
            for b in batches:
                print(model(b.cuda()) - center)
        """
    ) == [6]


def test_only_a_use_that_always_runs_guards_what_follows() -> None:
    # in a branch, a loop, a `try`, a conditional expression or after `and`/`or`, the
    # first use may not run: later ones are findings of their own
    assert hardcoded_lines(
        """
        def a(flag):
            if flag:
                x = torch.ones(2).cuda()
            return torch.zeros(2).cuda()

        def b(items):
            for t in items:
                t.cuda()
            return torch.zeros(2).cuda()

        def c(flag):
            y = torch.ones(2).cuda() if flag else None
            return torch.zeros(2).cuda(), y

        def d(x):
            try:
                x = x.cuda()
            except RuntimeError:
                pass
            return torch.zeros(2).cuda()
        """
    ) == [7, 8, 12, 13, 16, 17, 21, 24]


def test_a_with_block_runs_its_body_whatever_happens() -> None:
    assert hardcoded_lines(
        """
        def run(path):
            with open(path) as fh:
                model = torch.load(fh, map_location="cuda:0")
            return model, torch.zeros(2, device="cuda")
        """
    ) == [7]


MODULE_LEVEL = """
model = nn.Linear(4, 2).cuda()
x = torch.zeros(2, device="cuda")
"""


def test_a_scripts_own_statements_run_in_order() -> None:
    # the first fails without CUDA; the second runs only where the first succeeded
    # (diffusers' conversion script: 20 findings, now 1)
    assert hardcoded_lines(MODULE_LEVEL) == [5]


def test_a_notebooks_cells_are_reported_one_by_one() -> None:
    # a notebook's cells are run (and fixed) one at a time
    assert hardcoded_lines(MODULE_LEVEL, notebook=True) == [5, 6]


def test_an_nccl_process_group_means_cuda_is_there() -> None:
    assert hardcoded_lines(
        """
        def reduce(v):
            t = torch.tensor([v])
            if dist.get_backend() == "nccl":
                t = t.cuda()
            dist.all_reduce(t)
            return t
        """
    ) == []


def test_a_private_default_no_call_uses_is_no_finding() -> None:
    passed = textwrap.dedent(
        """
        def _fill(shape, device="cuda"):
            return torch.zeros(shape, device=device)

        class Eraser:
            def __init__(self, device="cpu"):
                self.device = device

            def __call__(self, img):
                return img + _fill(img.shape, device=self.device)
        """
    )
    assert hardcoded_lines(passed) == []
    # a call that leaves it out, a reference that is not a call, a public helper: findings
    omitted = passed + "\ndef g(x):\n    return x + _fill(x.shape)\n"
    assert hardcoded_lines(omitted) == [5]
    callback = passed + "\nFILLERS = [_fill]\n"
    assert hardcoded_lines(callback) == [5]
    # a public helper of library code: callers anywhere may leave it out
    public = passed.replace("_fill", "fill")
    assert hardcoded_lines(public, role=LIBRARY) == [5]
    # in a script every caller is in sight: a public helper, a class's `__init__` called
    # by the class's name (the TensorRT pipeline's `UNet(device="cuda")`)
    assert hardcoded_lines(public) == []
    assert hardcoded_lines(public + "\ndef g(x):\n    return x + fill(x.shape)\n") == [5]
    built = textwrap.dedent(
        """
        class Engine:
            def __init__(self, path, device="cuda"):
                self.weights = torch.load(path, map_location=device)

        def make_engine(path, device):
            return Engine(path, device=device)
        """
    )
    assert hardcoded_lines(built) == []
    named = built.replace(
        "        self.weights", "        super(Engine, self).__init__()\n        self.weights"
    )
    assert hardcoded_lines(named) == []  # the class naming itself is no other use
    assert hardcoded_lines(built, role=LIBRARY) == [6]
    assert hardcoded_lines(built + "\nSPARE = Engine('w.pt')\n") == [6]
    assert hardcoded_lines(built + "\nclass Big(Engine):\n    pass\n") == [6]


ACCELERATOR_METHODS_SOURCE = """\
import torch


class Points:
    def __init__(self, xyz):
        self.xyz = xyz

    def to(self, device):
        return Points(self.xyz.to(device))

    def cuda(self):
        return self.to("cuda")

    def shifted(self):
        return Points(self.xyz.cuda() + 1)

    def to_gpu(self):
        return self.to("cuda:0")


def to_gpu(model):
    return model.cuda()
"""


def test_a_method_named_for_the_accelerator_hard_codes_it_on_purpose() -> None:
    """pytorch3d's `Meshes.cuda()`, a pipeline's `cuda()`: only a caller who asks for the
    accelerator calls them (an audit reader's FALSE row).  The same hard-code in another
    method fires, and so does a script's `to_gpu(model)` function, the way that script
    hard-codes the GPU."""
    found = check_source(ACCELERATOR_METHODS_SOURCE, "points.py", [RULES_BY_CODE["DL002"]])
    assert [(f.code, f.line) for f in found] == [("DL002", 15), ("DL002", 22)]


def test_a_flag_that_opts_out_of_the_accelerator_guards_like_one_that_opts_in() -> None:
    """`if not args.cpu:` picks the device as `if args.cuda:` does (the user sets the flag
    where there is no GPU); the number of CPU cores is no device choice."""
    assert hardcoded_lines(
        """
        import os
        def run(args, cfg, x):
            if not args.cpu:
                x = x.cuda()
            if not cfg.common.cpu:
                x = x.cuda()
            use_cpu = args.force_cpu
            if not use_cpu:
                x = x.cuda()
            if args.no_cpu_offload:
                x = x.cuda()
            if os.cpu_count() > 8:
                x = x.cuda()
            return x.cuda()
        """
    ) == [17, 18]


def test_helpers_used_only_after_an_availability_exit_run_only_where_a_gpu_is() -> None:
    """`if not torch.cuda.is_available(): return` at the top of the caller: the helpers it
    calls or hands to a runner afterwards run only on GPU machines (closed world).  A
    use before the exit, or after an exit on some other test, is not guarded; nor is one
    after `if cuda and not torch.cuda.is_available(): raise`, which CPU runs pass."""
    assert hardcoded_lines(
        """
        def _case_a(n):
            return torch.randn(n, device="cuda")
        def _case_b(n):
            return torch.randn(n, device="cuda")
        def _case_c(n):
            return torch.randn(n, device="cuda")
        def run(bench, flag):
            bench(_case_c, 4)
            if not torch.cuda.is_available():
                return
            bench(_case_a, 4)
            print(_case_b(4))
        def other(bench, flag):
            if flag:
                return
            bench(_case_a, 4)
        def _case_d(n):
            return torch.randn(n, device="cuda")
        def asked(bench, cuda):
            if cuda and not torch.cuda.is_available():
                raise ValueError("no GPU")
            bench(_case_d, 4)
        """
    ) == [6, 10, 22]


def test_a_method_default_that_every_call_overrides_is_never_used() -> None:
    """`self.engine[name].allocate(device=d)`: the receiver is unknown, but only one
    method of the file has that name and every call of it passes `device`."""
    assert hardcoded_lines(
        """
        class Engine:
            def allocate(self, shape, device="cuda"):
                return torch.empty(shape, device=device)
            def release(self, device="cuda"):
                return torch.empty(0, device=device)
        def build(engines, name, dev):
            engines[name].allocate((4,), device=dev)
            engines[name].allocate((8,), dev)
            engines[name].release()
        """
    ) == [8]


def test_helpers_used_only_in_a_gpu_branch_run_only_where_a_gpu_is() -> None:
    """The body of `if torch.cuda.is_available():` (or the `else` of `if not ...:`) runs
    only on GPU machines: a closed-world helper used only there is guarded, defaults
    included (pytorch3d's `bm_barycentric_clip`); one also used outside is not."""
    assert hardcoded_lines(
        """
        def _case_a(n, device="cuda"):
            return torch.randn(n, device=device)
        def _case_b(n):
            return torch.randn(n, device="cuda")
        def _case_c(n):
            return torch.randn(n, device="cuda")
        def run(bench):
            if torch.cuda.is_available():
                bench(_case_a, [{"n": 4}])
            if not torch.cuda.is_available():
                print("no GPU")
            else:
                print(_case_b(4))
            bench(_case_c, [{"n": 4}])
        """
    ) == [10]


def test_a_helper_used_only_in_branches_of_device_tests_is_guarded_there() -> None:
    """`if args.cuda: batch = to_cuda(batch)`: the helper's `.cuda()` runs only where the
    program chose CUDA, as it would written in that branch (closed world: a program, or a
    script module whose helper no other module names).  A helper also called outside
    such a branch, or named elsewhere (a callback), still fires."""
    assert hardcoded_lines(
        """
        def to_cuda(batch):
            return [b.cuda() for b in batch]
        def to_gpu(x):
            return x.cuda()
        def pin(x):
            return x.cuda()
        def run(args, batch, x):
            if args.cuda:
                batch = to_cuda(batch)
            y = to_gpu(x) if args.use_gpu else x
            z = pin(x) if args.use_gpu else x
            hooks = [pin]
            return batch, y, z, to_gpu(x), hooks
        if __name__ == "__main__":
            run(None, [], None)
        """
    ) == [8, 10]
    # a module others may import: only the project can say no other module names the
    # helper (`devlint.project.uncalled`); the file alone keeps the finding
    assert hardcoded_lines(
        """
        def to_cuda(batch):
            return [b.cuda() for b in batch]
        def run(args, batch):
            if args.cuda:
                batch = to_cuda(batch)
            return batch
        """
    ) == [6]
