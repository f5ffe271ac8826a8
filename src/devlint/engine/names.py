"""Names: import aliases, dotted paths, and the vocabulary of PyTorch the engine knows.

A light alias map (`import torch.nn as nn`, `from torch import load`) replaces LibCST's
`QualifiedNameProvider`, which costs more than parsing the file.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable, Optional, Sequence

import libcst as cst

# Factories that create a tensor on the default device (the CPU) unless given `device=`.
# fmt: off
FACTORIES = frozenset(
    {
        "zeros", "ones", "empty", "full", "arange", "range", "linspace", "logspace", "eye",
        "rand", "randn", "randint", "randperm", "tensor", "as_tensor", "from_numpy", "frombuffer",
        "tril_indices", "triu_indices", "empty_strided", "scalar_tensor", "normal", "hann_window",
        "hamming_window", "blackman_window", "bartlett_window", "kaiser_window",
        "sparse_coo_tensor", "sparse_csr_tensor", "sparse_csc_tensor", "complex",
    }
)
# fmt: on
# fmt: off
LEGACY_CONSTRUCTORS = frozenset(
    {
        "Tensor", "FloatTensor", "LongTensor", "IntTensor", "BoolTensor", "DoubleTensor",
        "ByteTensor", "HalfTensor", "ShortTensor", "CharTensor",
    }
)
# fmt: on
# Factories whose result follows another tensor (never a finding).
# fmt: off
INHERITING_FACTORIES = frozenset(
    {
        "zeros_like", "ones_like", "empty_like", "full_like", "rand_like", "randn_like",
        "randint_like", "bernoulli", "multinomial", "poisson", "normal_like",
    }
)
# fmt: on
RANDOM_FACTORIES = frozenset({"rand", "randn", "randint", "randperm", "normal"})

# torch functions whose tensor arguments must share a device.
# fmt: off
COMBINING_FUNCTIONS = frozenset(
    {
        "cat", "concat", "concatenate", "stack", "hstack", "vstack", "dstack", "add", "sub",
        "subtract", "mul", "multiply", "div", "divide", "true_divide", "matmul", "mm", "bmm",
        "mv", "dot", "einsum", "where", "maximum", "minimum", "index_select", "gather",
        "masked_select", "cdist", "cosine_similarity", "pairwise_distance", "bilinear", "linear",
        "embedding", "conv1d", "conv2d", "conv3d", "lerp", "addmm", "baddbmm", "outer", "cross",
        "kron", "eq", "ne", "lt", "gt", "le", "ge", "equal", "allclose", "isclose", "atan2",
        "pow", "fmod", "remainder", "masked_fill", "take_along_dim", "searchsorted", "bucketize",
        "scatter", "scatter_add", "index_add", "mse_loss", "l1_loss", "smooth_l1_loss",
        "huber_loss", "cross_entropy", "nll_loss", "binary_cross_entropy",
        "binary_cross_entropy_with_logits", "kl_div", "cosine_embedding_loss",
        "margin_ranking_loss", "triplet_margin_loss", "ctc_loss", "soft_margin_loss",
        "multilabel_soft_margin_loss", "multi_margin_loss", "hinge_embedding_loss",
        "poisson_nll_loss", "gaussian_nll_loss", "polar", "hypot", "logaddexp", "logaddexp2",
        "fmax", "fmin", "xlogy", "copysign", "floor_divide", "inner", "tensordot", "ger",
        "logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or",
        "bitwise_xor", "block_diag", "cartesian_prod",
    }
)
# fmt: on
# Tensor methods whose tensor arguments must be on the receiver's device.
# fmt: off
COMBINING_METHODS = frozenset(
    {
        "add", "add_", "sub", "sub_", "mul", "mul_", "div", "div_", "matmul", "mm", "bmm", "mv",
        "dot", "masked_fill", "masked_fill_", "masked_select", "masked_scatter", "index_select",
        "gather", "scatter", "scatter_", "scatter_add", "scatter_add_", "index_add", "index_add_",
        "index_copy", "index_copy_", "index_fill", "index_fill_", "eq", "ne", "lt", "gt", "le",
        "ge", "maximum", "minimum", "where", "lerp", "pow", "addmm", "baddbmm", "take_along_dim",
        "expand_as_not_really", "cross", "outer", "fmod", "remainder", "atan2", "addcmul",
        "addcdiv", "addcmul_", "addcdiv_",
    }
)
# fmt: on
# Tensor methods whose index/mask argument must be on the receiver's device.
INDEX_METHODS = frozenset(
    {
        "index_select",
        "gather",
        "scatter",
        "scatter_",
        "scatter_add",
        "scatter_add_",
        "index_add",
        "index_add_",
        "index_copy",
        "index_copy_",
        "index_fill",
        "index_fill_",
        "take_along_dim",
        "masked_fill",
        "masked_fill_",
    }
)
# Index-carrying functions/methods: the index argument must be on the input's device too.
LOSS_WEIGHT_KWARGS = frozenset({"weight", "pos_weight"})

# Tensor methods that return something that is not a tensor.
# fmt: off
NON_TENSOR_METHODS = frozenset(
    {
        "item", "tolist", "numel", "dim", "ndimension", "size", "stride", "element_size",
        "nelement", "data_ptr", "storage_offset", "get_device", "is_contiguous",
        "is_floating_point", "is_complex", "is_signed", "backward", "register_hook", "numpy",
        "__len__", "nbytes", "untyped_storage", "storage", "equal",
    }
)
# fmt: on
# `torch.*` functions whose result is not a tensor: a Python int, a bool, a dtype.
# fmt: off
NON_TENSOR_FUNCTIONS = frozenset(
    {
        "numel", "is_tensor", "is_storage", "is_floating_point", "is_complex", "is_nonzero",
        "is_same_size", "equal", "result_type", "can_cast", "promote_types", "typename",
        "is_conj", "is_inference", "get_device",
    }
)
# fmt: on
# fmt: off
DTYPE_NAMES = frozenset(
    {
        "float32", "float16", "bfloat16", "float64", "long", "int64", "int32", "int16", "int8",
        "bool", "uint8", "float", "half", "double", "int", "complex64", "complex128",
    }
)
# fmt: on
TENSOR_ATTRIBUTES_SAME_DEVICE = frozenset({"T", "mT", "H", "mH", "data", "grad", "real", "imag"})
NON_TENSOR_ATTRIBUTES = frozenset(
    {"shape", "dtype", "ndim", "requires_grad", "is_cuda", "layout", "names", "is_leaf", "itemsize"}
)
# Methods that reduce to a 0-dim tensor when called without a dimension.
# fmt: off
REDUCTIONS = frozenset(
    {
        "sum", "mean", "max", "min", "prod", "norm", "std", "var", "all", "any", "argmax",
        "argmin", "median", "logsumexp", "amax", "amin", "count_nonzero", "trace", "det",
    }
)
# fmt: on

# Attribute names and parameter/variable names that evidently use a value as a tensor.
# fmt: off
TENSOR_USE_ATTRS = frozenset(
    {
        # not `device`, `dtype`, `float`, `half`, `to`: modules have them too
        "shape", "size", "dim", "view", "reshape", "unsqueeze", "squeeze",
        "permute", "transpose", "contiguous", "long", "masked_fill", "sum",
        "mean", "flatten", "expand", "repeat", "view_as", "reshape_as", "detach", "clone",
        "softmax", "log_softmax", "argmax", "new_zeros", "new_ones", "new_full", "new_empty",
        "new_tensor", "chunk", "split", "narrow", "numel", "masked_fill_", "type_as", "bmm",
        "matmul", "is_cuda", "ndim", "norm", "sigmoid", "tanh", "exp", "log", "abs", "clamp",
        # tensor methods that neither Python numbers nor NumPy arrays have
        "pow", "topk", "gather", "index_select", "unbind", "masked_select", "sqrt",
    }
)
# fmt: on

# Matplotlib functions and `Axes` methods that read their data arguments with NumPy.
# fmt: off
PLOT_FUNCTIONS = frozenset(
    {
        # (not `step`, `bar`, `hist`: schedulers, progress bars and others have them)
        "plot", "imshow", "scatter", "matshow", "pcolormesh", "contourf", "fill_between",
        "errorbar", "semilogy", "semilogx", "loglog", "specgram", "boxplot", "violinplot",
        "hist2d",
    }
)
# fmt: on

# nn layers and losses that hold no parameters and work on any device.
# fmt: off
PARAMETERLESS_MODULES = frozenset(
    {
        "ReLU", "ReLU6", "LeakyReLU", "GELU", "SiLU", "ELU", "SELU", "CELU", "Mish", "Sigmoid",
        "Tanh", "Softmax", "LogSoftmax", "Softplus", "Softsign", "Hardtanh", "Hardswish",
        "Hardsigmoid", "Tanhshrink", "Softmin", "Threshold", "GLU", "Dropout", "Dropout1d",
        "Dropout2d", "Dropout3d", "AlphaDropout", "Identity", "Flatten", "Unflatten", "MaxPool1d",
        "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d",
        "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
        "AdaptiveMaxPool3d", "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d",
        "PixelShuffle", "PixelUnshuffle", "ZeroPad2d", "ConstantPad1d", "ConstantPad2d",
        "ReflectionPad2d", "ReplicationPad2d", "CosineSimilarity", "PairwiseDistance",
        "ChannelShuffle", "Fold", "Unfold",
        # losses (their weight=/pos_weight= makes them device-bound; handled separately)
        "L1Loss", "MSELoss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss",
        "SmoothL1Loss", "HuberLoss", "KLDivLoss", "CTCLoss", "MarginRankingLoss",
        "HingeEmbeddingLoss", "CosineEmbeddingLoss", "TripletMarginLoss", "SoftMarginLoss",
        "MultiLabelSoftMarginLoss", "MultiMarginLoss", "PoissonNLLLoss", "GaussianNLLLoss",
        "MultiLabelMarginLoss", "NLLLoss2d",
    }
)
# fmt: on
OPTIMIZER_MODULES = ("torch.optim.",)

DEVICE_NAME_RE = re.compile(r"^(device|dev|devices?|_device|\w+_device|device_\w+|torch_device)$")
LOADER_NAME_RE = re.compile(r"(loader|_dl$|^dl$|^dl_|dataloader|batches$|batch_iter)", re.I)
MODEL_NAME_RE = re.compile(
    r"^(model|net|network|module|encoder|decoder|generator|discriminator|classifier|backbone|"
    r"net[GD]|[GD]|policy|critic|actor|\w+_model|model_\w+|\w+_net|\w+net)$"
)
# ...but not `model_class`, `model_name`, `model_fn`, `model_config`: things about models
NOT_MODEL_SUFFIX_RE = re.compile(
    r"_(class|cls|fn|func|factory|name|names|path|dir|type|id|kwargs|args|config|cfg|"
    r"args|file|url|list|dict|state|params|builder|kind)$"
)
# A test expression that checks which device is available or in use.
DEVICE_CONDITION_RE = re.compile(
    r"cuda|gpu|device|mps|accel|xpu|is_available|npu|hpu|(?<![a-z])(?:tpu|xla)|prefetch|nccl",
    re.I,
)
# A flag that opts out of the accelerator (`if not args.cpu:`, `if not cfg.common.cpu:`,
# `if not no_cuda`, `use_cpu`, `force_cpu`): the user picks the device with it, as with
# `args.cuda`, so a test on it is a device condition too (not `os.cpu_count()`).
CPU_FLAG_RE = re.compile(r"(?<![a-z])cpu(?!_?count)(?![a-z])", re.I)
ACCELERATOR_LITERAL_RE = re.compile(r"^(cuda|mps|xpu|hpu|npu|xla)(:\d+)?$")


def dotted(node: cst.BaseExpression) -> Optional[str]:
    """`a.b.c` for Name/Attribute chains, else None."""
    # compared by type: `isinstance` on LibCST classes goes through ABCMeta (slow)
    parts: list[str] = []
    while type(node) is cst.Attribute:
        parts.append(node.attr.value)
        node = node.value
    if type(node) is cst.Name:
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


def _attr_name(node: cst.BaseExpression) -> Optional[str]:
    return dotted(node)


class ImportMap:
    """Local names bound by imports, mapped to the qualified names they stand for.

    `package`: the package a relative import starts from (`pkg.sub` for `pkg/sub/m.py`
    and for `pkg/sub/__init__.py`); without it relative imports bind nothing.  `stars`:
    the modules `from m import *` reads (resolved across modules by `devlint.project`)."""

    def __init__(self, package: str = "") -> None:
        self.aliases: dict[str, str] = {}
        self.package = package
        self.stars: list[str] = []

    def collect(self, statements: Iterable[cst.CSTNode]) -> None:
        for stmt in statements:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    self._add(small)
            elif isinstance(stmt, (cst.If, cst.Try)):
                self.collect(stmt.body.body)
                if isinstance(stmt, cst.Try):
                    for h in stmt.handlers:
                        self.collect(h.body.body)
                elif stmt.orelse is not None and isinstance(stmt.orelse, cst.Else):
                    self.collect(stmt.orelse.body.body)

    def _base(self, small: cst.ImportFrom) -> Optional[str]:
        """The module a `from ... import` reads, relative imports resolved."""
        module = _attr_name(small.module) if small.module is not None else ""
        if module is None:
            return None
        level = len(small.relative)
        if not level:
            return module or None
        if not self.package:
            return None
        parts = self.package.split(".")
        if level - 1 >= len(parts):
            return None  # beyond the top-level package
        anchor = ".".join(parts[: len(parts) - (level - 1)])
        return f"{anchor}.{module}" if module else anchor

    def _add(self, small: cst.BaseSmallStatement) -> None:
        if isinstance(small, cst.Import):
            for alias in small.names:
                name = _attr_name(alias.name)
                if name is None:
                    continue
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    self.aliases[alias.asname.name.value] = name
                else:
                    head = name.split(".")[0]
                    self.aliases[head] = head
        elif isinstance(small, cst.ImportFrom):
            base = self._base(small)
            if base is None:
                return
            if isinstance(small.names, cst.ImportStar):
                self.stars.append(base)
                return
            for alias in small.names:
                name = _attr_name(alias.name)
                if name is None:
                    continue
                local = name
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    local = alias.asname.name.value
                self.aliases[local] = f"{base}.{name}"

    def qualify(self, node: cst.BaseExpression) -> Optional[str]:
        """The qualified name of a dotted expression (`nn.Linear` -> `torch.nn.Linear`)."""
        name = dotted(node)
        if name is None:
            return None
        head, _, rest = name.partition(".")
        full = self.aliases.get(head)
        if full is None:
            return name
        return f"{full}.{rest}" if rest else full


def is_torch_name(qname: Optional[str], *suffixes: str) -> bool:
    """`torch.X` for X in suffixes (also `torch.nn.functional.X` etc. when listed)."""
    if qname is None:
        return False
    return any(qname == f"torch.{s}" for s in suffixes)


def last_part(qname: str) -> str:
    return qname.rsplit(".", 1)[-1]


def is_device_name(name: str) -> bool:
    """Names that by convention hold the target device (`device`, `args.device`, `self.dev`)."""
    return bool(DEVICE_NAME_RE.match(name.rsplit(".", 1)[-1]))


def is_loader_name(name: str) -> bool:
    return bool(LOADER_NAME_RE.search(name.rsplit(".", 1)[-1]))


# a loss module handed to a training function: `criterion`, `criterion_st`, `loss_fn`
CRITERION_NAME_RE = re.compile(r"^(criterion(_\w+)?|\w+_criterion)$")
LOSS_FN_NAME_RE = re.compile(r"^(\w+_)?loss_(fn|func|function)$")


def is_criterion_name(name: str) -> bool:
    """A parameter named like a loss module: parameter-free as losses are, its tensor
    inputs (the prediction and the target) must share a device."""
    last = name.rsplit(".", 1)[-1]
    if LOSS_FN_NAME_RE.match(last):
        return True
    return bool(CRITERION_NAME_RE.match(last)) and not NOT_MODEL_SUFFIX_RE.search(last)


def is_model_name(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return bool(MODEL_NAME_RE.match(last)) and not NOT_MODEL_SUFFIX_RE.search(last)


def accelerator_literal(node: cst.BaseExpression) -> Optional[str]:
    """'cuda', 'cuda:0', 'mps'... when `node` is such a string literal."""
    value = string_value(node)
    if value is not None and ACCELERATOR_LITERAL_RE.match(value):
        return value
    return None


def string_value(node: cst.BaseExpression) -> Optional[str]:
    """The value of a plain string literal (`'cuda:0'`, `r"x"`, a triple-quoted one),
    else None: bytes and f-strings are not plain strings.  Decoded here rather than with
    the property LibCST offers for it, which hands the literal to Python's own parser."""
    if type(node) is not cst.SimpleString:
        return None
    raw = node.value
    start = 0
    while start < len(raw) and raw[start] not in "'\"":
        start += 1
    prefix = raw[:start].lower()
    if "b" in prefix:
        return None
    body = raw[start:]
    quote = body[:3] if body[:3] in ("'''", '"""') else body[:1]
    if not quote or len(body) < 2 * len(quote) or not body.endswith(quote):
        return None
    text = body[len(quote) : len(body) - len(quote)]
    if "\\" not in text or "r" in prefix:
        return text
    return _ESCAPE_RE.sub(_unescape, text)


# the escape sequences of a Python string literal: octal, hex, unicode, named, a
# backslash-newline (the literal goes on on the next line), and the one-letter ones
_ESCAPE_RE = re.compile(
    r"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})"
    r"|N\{([^}]*)\}|(\r\n|[\n\r])|(.))",
    re.DOTALL,
)
_SIMPLE_ESCAPES = {
    "\\": "\\",
    "'": "'",
    '"': '"',
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
}


def _unescape(match: re.Match[str]) -> str:
    octal, hex2, hex4, hex8, named, newline, other = match.groups()
    if octal is not None:
        return chr(int(octal, 8))
    number = hex2 or hex4 or hex8
    if number is not None:
        code = int(number, 16)
        return chr(code) if code <= 0x10FFFF else match.group()
    if named is not None:
        try:
            return unicodedata.lookup(named)
        except KeyError:
            return match.group()
    if newline is not None:
        return ""
    return _SIMPLE_ESCAPES.get(other, match.group())


# Arguments PyTorch takes on the CPU whatever the device of the others (it copies them where
# its kernel needs them): the targets and lengths of CTC loss, the lengths of a packed
# sequence.  A CPU tensor there is no device error.  By the callee's last name: positions
# (0-based, among the positional arguments) and keywords.
HOST_ARGUMENTS: dict[str, tuple[frozenset[int], frozenset[str]]] = {
    "ctc_loss": (frozenset({1, 2, 3}), frozenset({"targets", "input_lengths", "target_lengths"})),
    "pack_padded_sequence": (frozenset({1}), frozenset({"lengths"})),
}


# tests that are true only under torch.fx symbolic tracing (`transformers.utils`'s
# `is_torch_fx_proxy(x)`, `torch.fx._symbolic_trace.is_fx_tracing()`)
FX_TRACING_TESTS = frozenset({"is_torch_fx_proxy", "is_fx_tracing"})


def last_name(func: cst.BaseExpression) -> str:
    """`f` of `f(...)`, `m.f(...)`, `a.b.f(...)`; "" for anything else."""
    if type(func) is cst.Name:
        return func.value
    if type(func) is cst.Attribute:
        return func.attr.value
    return ""


# loss modules whose `forward` is a functional with `HOST_ARGUMENTS` (`nn.CTCLoss` calls
# `F.ctc_loss`: its targets and lengths may stay on the CPU)
HOST_ARGUMENT_MODULES = {"CTCLoss": "ctc_loss"}


def is_host_argument(callee: str, args: Sequence[cst.Arg], arg: cst.Arg) -> bool:
    """Whether `arg` of a call of `callee` (its last name is enough) is one of its
    `HOST_ARGUMENTS`.  After a starred argument, positions are not known: none is."""
    spec = HOST_ARGUMENTS.get(callee.rsplit(".", 1)[-1])
    if spec is None:
        return False
    positions, keywords = spec
    if arg.keyword is not None:
        return arg.keyword.value in keywords
    position = 0
    for a in args:
        if a.star:
            return False
        if a is arg:
            return position in positions
        if a.keyword is None:
            position += 1
    return False
