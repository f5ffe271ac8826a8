"""DL007 numpy-on-accelerator."""

from __future__ import annotations

from typing import Iterator

import libcst as cst

from devlint.engine.facts import FileFacts, NumpyCall
from devlint.engine.values import describe_device, is_weak
from devlint.rules._fixes import method_call, replace
from devlint.rules._mismatch import receiver_text
from devlint.rules.base import SAFE, Report, Rule


class NumpyOnAccelerator(Rule):
    code = "DL007"
    name = "numpy-on-accelerator"
    summary = "`.numpy()` (or a NumPy function) on a tensor that is, or may be, on an accelerator."
    why = (
        "NumPy arrays live in host memory: `.numpy()` on a CUDA tensor raises `TypeError: can't "
        "convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the tensor to host "
        "memory first.` NumPy functions given a tensor (`np.asarray(x)`, `np.argsort(x)`) "
        "read it the same way (`Tensor.__array__` calls `.numpy()`). Code that works on CPU "
        "fails as soon as the model runs on a GPU; metric "
        "helpers that receive the model's outputs fail the same way. In library code (modules "
        "of a package, or the `library` setting) a public function's tensor parameters may "
        "come from any accelerator; in scripts and private helpers a parameter counts when a "
        "caller in the file passes it an accelerator tensor. Matplotlib reads its data with "
        "NumPy too (`plt.plot(t)`, `ax.imshow(t)`). NumPy and Matplotlib also take arrays and "
        "lists, so a parameter handed to them counts only in a function that copies other "
        "tensors to the host itself (`y.cpu()`): it knows its data may be on an accelerator."
    )
    fix = "Copy to the host first: `x.detach().cpu().numpy()` (or `x.numpy(force=True)`)."
    fix_summary = (
        "insert `.cpu()` (`.detach().cpu()` for model outputs) before `.numpy()`, or around "
        "the tensor a NumPy function is given"
    )
    fix_applicability = "safe"
    bad = "model = nn.Linear(10, 2).to(device)\nout = model(x.to(device))\npreds = out.argmax(1).numpy()\n"
    good = "model = nn.Linear(10, 2).to(device)\nout = model(x.to(device))\npreds = out.argmax(1).cpu().numpy()\n"

    def check(self, facts: FileFacts) -> Iterator[Report]:
        for n in facts.numpy_calls:
            chain = ".detach().cpu()" if n.needs_detach else ".cpu()"
            if n.contract:
                where = f"may be on an accelerator ({n.contract})"
            elif is_weak(n.receiver.device):
                where = (
                    "is a tensor parameter, and this file places tensors on an accelerator, so "
                    "callers may pass it from one"
                )
            else:
                where = f"may be on {describe_device(n.receiver.device)}"
            if n.numpy_function:
                yield self.numpy_function_report(n, where, chain)
                continue
            msg = (
                f"`{n.receiver_text}` {where}: `.numpy()` on an accelerator tensor raises "
                "`TypeError: can't convert cuda:0 device type tensor to numpy`"
            )
            fix = None
            if isinstance(n.node, cst.Call) and isinstance(n.node.func, cst.Attribute):
                copied = _host_copy(n.node.func.value, chain)
                fix = replace(
                    SAFE,
                    f"insert `{chain}` before `.numpy()`",
                    n.node,
                    method_call(copied, "numpy").with_changes(lpar=(), rpar=()),
                )
            yield self.report(
                n.node,
                msg,
                f"copy it to the host first: `{n.receiver_text}{chain}.numpy()`",
                fix=fix,
            )

    def numpy_function_report(self, n: NumpyCall, where: str, chain: str) -> Report:
        """`np.asarray(x)`: NumPy reads the tensor through `Tensor.__array__`, which is
        `.numpy()`; the fix copies the argument to the host (not offered for a list of
        tensors: each would need its own copy)."""
        msg = (
            f"`{n.numpy_function}` reads `{n.receiver_text}` into NumPy, and "
            f"`{n.receiver_text}` {where}: NumPy takes a tensor's data with `.numpy()`, "
            "which raises `TypeError: can't convert cuda:0 device type tensor to numpy` "
            "on an accelerator tensor"
        )
        fix = None
        if n.argument is not None:
            fix = replace(
                SAFE,
                f"copy `{n.receiver_text}` to the host (`{chain}`)",
                n.argument,
                _host_copy(n.argument, chain),
            )
        shown = receiver_text(n.argument, n.receiver_text)
        more = ", ..." if isinstance(n.node, cst.Call) and len(n.node.args) > 1 else ""
        help_text = (
            f"copy it to the host first: `{n.numpy_function}({shown}{chain}{more})`"
            if n.argument is not None
            else "copy each tensor to the host first (`t.cpu()`), or stack them with "
            "torch and copy once"
        )
        return self.report(n.node, msg, help_text, fix=fix)


def _host_copy(expr: cst.BaseExpression, chain: str) -> cst.BaseExpression:
    """`expr` with the calls of `chain` (`.cpu()`, `.detach().cpu()`) applied."""
    for method in chain.strip(".()").split("()."):
        expr = method_call(expr, method)
    return expr
