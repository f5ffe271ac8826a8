"""Code written for the default device (issue 13: a precision class).

Some projects run on a GPU without ever naming a device in their library code: their
scripts and tests call `torch.set_default_device("cuda")` (or the older
`torch.set_default_tensor_type(torch.cuda.FloatTensor)`) first, and from then on every
factory (`torch.zeros`, `torch.arange`, `torch.eye`...) creates its tensor there.  In a
file of such a project that never places anything itself (no `device=`, no `.device`,
no `.to()`/`.cuda()`), a factory without `device=` that meets a parameter's tensor is
not a CPU tensor meeting an accelerator one: both were made on the same default device.
Pyro is the example: its `contrib` modules build everything on the default device, and
its examples' `--cuda` flag sets it.

The project tells (`devlint.project`: some file of it sets an accelerator as the default
device); the file tells (its text names no device); the finding tells (a factory that the
default device applies to, meeting a tensor whose device is a parameter's or the
module's own).  Legacy constructors (`torch.FloatTensor(...)`) and `torch.from_numpy`
ignore the default device: their findings stay.
"""

from __future__ import annotations

import re
from typing import Iterable

import libcst as cst

from devlint.engine.facts import Cause, Mismatch
from devlint.engine.walk import walk

# the project-wide fact's key (as `devlint.project.DEFAULT_DEVICE`)
DEFAULT_DEVICE = "@default-device"

# torch's constructors that follow `torch.set_default_device` (its
# `torch.utils._device._device_constructors()`, the ones devlint sees as factories)
DEFAULT_DEVICE_FACTORIES = frozenset(
    {
        "arange",
        "as_tensor",
        "asarray",
        "bartlett_window",
        "blackman_window",
        "empty",
        "empty_strided",
        "eye",
        "full",
        "hamming_window",
        "hann_window",
        "kaiser_window",
        "linspace",
        "logspace",
        "ones",
        "rand",
        "randint",
        "randn",
        "randperm",
        "range",
        "scalar_tensor",
        "tensor",
        "tril_indices",
        "triu_indices",
        "zeros",
    }
)

# what placing something explicitly looks like in a file's text (`x.type_as(y)` and
# `x.new_zeros(...)` are not: they follow a partner that is on the default device too,
# and are as much about its dtype)
_PLACES = re.compile(r"\bdevice\s*=|\.device\b|\.(?:to|cuda|cpu)\s*\(|\bget_device\b|\bdevice\s*\(")


# `torch.from_numpy(a).to(x.device)`: a NumPy array comes in on the CPU whatever the
# default device, so code written for the default device moves it too
_FROM_NUMPY_MOVE = re.compile(
    r"from_numpy\((?:[^()]|\([^()]*\))*\)"  # the call, with one level of nesting
    r"(?:\s*\.(?:to|type_as|type|float|double|long|int)\((?:[^()]|\([^()]*\))*\))+"
)


def places_nothing(source: str) -> bool:
    """The file never names a device or moves a tensor (but NumPy data it brings in):
    it is written for whatever device the program made the default."""
    return _PLACES.search(_FROM_NUMPY_MOVE.sub("", source)) is None


def follows_default(m: Mismatch, factory_text: str) -> bool:
    """A DL005 fact that the default device would make false: a factory the default
    device applies to (not a legacy constructor, not `from_numpy`), meeting a tensor
    whose device is a parameter's or the module's own."""
    if m.cause is not Cause.FACTORY or not default_device_factory(factory_text):
        return False
    atoms: Iterable[str] = m.partner.value.device
    return bool(atoms) and all(a.startswith("sym:param:") or a == "sym:self" for a in atoms)


def places_itself_by_flag(cls: cst.ClassDef) -> bool:
    """A module class that picks the accelerator itself with a flag it keeps (`if
    self.is_cuda: seq_data = seq_data.cuda()`) and never moves itself (no `self.to(...)`,
    `self.cuda()`): it is written for the default device, which its GPU runs set before
    building it (pyro's `FactorMuE(cuda=True)` after `torch.set_default_device("cuda")`),
    not for a `.to()` that would leave its plain tensors behind."""
    flagged = False
    for node in walk(cls):
        if type(node) is cst.Call and type(node.func) is cst.Attribute:
            receiver = node.func.value
            if (
                node.func.attr.value in ("to", "cuda")
                and type(receiver) is cst.Name
                and receiver.value == "self"
            ):
                return False
        if (
            not flagged
            and type(node) is cst.If
            and type(node.test) is cst.Attribute
            and type(node.test.value) is cst.Name
            and node.test.value.value == "self"
        ):
            flagged = any(
                type(n) is cst.Call
                and type(n.func) is cst.Attribute
                and n.func.attr.value == "cuda"
                for n in walk(node.body)
            )
    return flagged


def default_device_factory(factory_text: str) -> bool:
    """A call (its text) of a factory the default device applies to (not a legacy
    constructor, not `from_numpy`)."""
    head = factory_text.split("(", 1)[0]
    return head.rsplit(".", 1)[-1] in DEFAULT_DEVICE_FACTORIES
