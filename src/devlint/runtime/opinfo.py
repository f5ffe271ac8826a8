"""Which device check an ATen operator does on an accelerator, and the error it raises.

PyTorch generates the device checks of its CUDA kernels from `native_functions.yaml`
(with torchgen); both ship inside the torch wheel.  The emulated accelerator reads the
same file, from the torch that runs the program, and applies the same rules:

* `device_check: ExactSame` (the default) for an operator with a CUDA kernel: the
  generated wrapper `wrapper_CUDA_<...>` compares the out= arguments and then the
  positional tensor arguments, in schema order, with the first defined one
  (`c10::impl::check_and_update_common_device`):
  "Expected all tensors to be on the same device, but got mat1 is on cpu, different
  from other tensors on cuda:0 (when checking argument in method wrapper_CUDA_addmm)".
* `device_check: NoCheck  # TensorIterator`: the kernel's TensorIterator takes the first
  non-CPU device as the common one, lets one 0-dim CPU input through, and raises
  "Expected all tensors to be on the same device, but found at least two devices,
  cuda:0 and cpu!".
* An operator without a CUDA kernel but with a `CompositeExplicitAutograd` one (embedding,
  masked_fill, binary_cross_entropy_with_logits, the foreach slow path) runs its
  composite kernel, so the operators it calls are checked, as on a GPU.
* A few kernels check devices themselves, with their own words: convolution, indexing,
  `masked_fill_` and the recurrent layers (`check_attributes` in RNN.h); see SPECIAL.

The wrapper names follow torchgen: `wrapper_CUDA_<name>[_out][_<overload>]` for
structured kernels, `wrapper_CUDA_<overload>_<name>` for the others.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

EXACT_SAME = "ExactSame"
NO_CHECK = "NoCheck"


@dataclass
class OpInfo:
    name: str  # "add.Tensor"
    device_check: str = EXACT_SAME
    tensor_iterator: bool = False  # NoCheck because a TensorIterator checks
    dispatch_keys: tuple[str, ...] = ()
    structured: bool = False
    structured_delegate: Optional[str] = None
    structured_inherits: Optional[str] = None

    @property
    def base(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def overload(self) -> str:
        return self.name.split(".", 1)[1] if "." in self.name else ""


def yaml_path() -> Optional[str]:
    try:
        import torchgen  # shipped in the torch wheel
    except ImportError:
        return None
    path = os.path.join(
        os.path.dirname(torchgen.__file__), "packaged", "ATen", "native", "native_functions.yaml"
    )
    return path if os.path.exists(path) else None


def parse_native_functions(text: str) -> dict[str, OpInfo]:
    """The fields this module needs, read with a small line parser (no YAML library)."""
    ops: dict[str, OpInfo] = {}
    cur: Optional[OpInfo] = None
    in_dispatch = False
    for raw in text.splitlines():
        if raw.startswith("- func:"):
            sig = raw[len("- func:") :].strip()
            name = sig.split("(", 1)[0].strip()
            cur = OpInfo(name=name)
            ops[name] = cur
            in_dispatch = False
            continue
        if cur is None or not raw.strip() or raw.lstrip().startswith("#"):
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        line = raw.strip()
        if indent >= 4 and in_dispatch:
            keys = line.split(":", 1)[0]
            cur.dispatch_keys += tuple(k.strip() for k in keys.split(","))
            continue
        in_dispatch = False
        key, _, value = line.partition(":")
        value_nc, _, comment = value.partition("#")
        value_nc = value_nc.strip()
        if key == "device_check":
            cur.device_check = value_nc
            cur.tensor_iterator = "TensorIterator" in comment
        elif key == "dispatch":
            in_dispatch = True
        elif key == "structured":
            cur.structured = value_nc == "True"
        elif key == "structured_delegate":
            cur.structured_delegate = value_nc
        elif key == "structured_inherits":
            cur.structured_inherits = value_nc
    return ops


class OpTable:
    def __init__(self, ops: dict[str, OpInfo]) -> None:
        self.ops = ops

    @classmethod
    def load(cls) -> OpTable:
        path = yaml_path()
        if path is None:
            return cls({})
        with open(path, encoding="utf-8") as fh:
            return cls(parse_native_functions(fh.read()))

    def get(self, name: str) -> Optional[OpInfo]:
        return self.ops.get(name)

    def has_kernel(self, info: OpInfo, key: str) -> bool:
        if key in info.dispatch_keys:
            return True
        if info.structured_delegate:
            delegate = self.ops.get(info.structured_delegate)
            return delegate is not None and key in delegate.dispatch_keys
        return False

    def is_tensor_iterator(self, info: OpInfo) -> bool:
        if info.tensor_iterator:
            return True
        delegate = self.ops.get(info.structured_delegate or "")
        if delegate is not None and delegate.structured_inherits == "TensorIteratorBase":
            return True
        return info.structured_inherits == "TensorIteratorBase"

    def is_structured(self, info: OpInfo) -> bool:
        return info.structured or bool(info.structured_delegate)


def wrapper_name(info: OpInfo, key: str, structured: bool, is_out: bool = False) -> str:
    """The name torchgen gives the registered kernel wrapper (see the module docstring)."""
    base, overload = info.base, info.overload
    if structured:
        name = base + ("_out" if is_out else "")
        if overload:
            name += f"_{overload}"
        return f"wrapper_{key}_{name}"
    return f"wrapper_{key}_{overload}_{base}" + ("_out" if is_out else "")


def exact_same_message(arg: str, device: str, common: str, method: str) -> str:
    return (
        "Expected all tensors to be on the same device, but got "
        f"{arg} is on {device}, different from other tensors on {common} "
        f"(when checking argument in method {method})"
    )


def tensor_iterator_message(common: str, other: str) -> str:
    return (
        "Expected all tensors to be on the same device, but found at least two devices, "
        f"{common} and {other}!"
    )


_LEGACY = {
    "float32": "FloatTensor",
    "float64": "DoubleTensor",
    "float16": "HalfTensor",
    "bfloat16": "BFloat16Tensor",
    "int64": "LongTensor",
    "int32": "IntTensor",
    "int16": "ShortTensor",
    "int8": "CharTensor",
    "uint8": "ByteTensor",
    "bool": "BoolTensor",
    "complex64": "ComplexFloatTensor",
    "complex128": "ComplexDoubleTensor",
}


def legacy_type_name(dtype_name: str, device_type: str) -> str:
    """`torch.cuda.FloatTensor` for ("float32", "cuda"), `torch.FloatTensor` on the CPU."""
    short = _LEGACY.get(dtype_name, dtype_name.capitalize() + "Tensor")
    if device_type == "cpu":
        return f"torch.{short}"
    return f"torch.{device_type}.{short}"
