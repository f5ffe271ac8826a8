"""The state the flow analysis carries through one scope, and what it knows of classes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import libcst as cst

from devlint.engine.values import Device, Value

MAX_LOOP_PASSES = 3
HEURISTIC_LOADER = "<loader by name>"
# the evidence (`FlowVisitor.add_fact`, as `(0, MOVED_ELSEWHERE + owner)`) a batch of
# such a loader waits for: another loop over a loader known only by name that moves its
# batches, in the same class or function (`batch_owner`)
MOVED_ELSEWHERE = "<batches moved in>"


def batch_owner(scope: Scope) -> str:
    """The class whose methods, or the function whose loops, share what their loaders are."""
    if scope.cls is not None:
        return f"class {scope.cls.name}"
    return f"def {scope.func.name.value}" if scope.func is not None else "module"
CPU_SIDE_BASES = ("Dataset", "Sampler", "DataLoader", "Loader", "Transform")
MAX_CALL_DEPTH = 3
# type names of Hugging Face tokenizers/processors and of what they return
TOKENIZER = "<tokenizer>"
ENCODING = "<encoding>"
# a torchmetrics metric object: its inputs meet inside it
METRIC = "<metric>"
# `Value.type_name` of the models that place themselves on an accelerator where one is
# available (`calls._call_self_placing_model`): sentence-transformers' models, OpenAI
# CLIP's (`clip.load`) and Whisper's (`whisper.load_model`)
SELF_PLACING = "sentence_transformers.model"
CLIP_MODEL = "clip.model"
WHISPER_MODEL = "whisper.model"
# Ultralytics (`YOLO("yolov8n.pt")`): the model picks CUDA when there is one at predict
# time; its results (`Value.type_name` ULTRA_RESULT) hold parts (`boxes`, `masks`...,
# ULTRA_PART) whose tensors (`xyxy`, `conf`...) stay on that device
ULTRA_MODEL = "ultralytics.model"
ULTRA_RESULT = "ultralytics.results"
ULTRA_PART = "ultralytics.part"
ULTRA_PARTS = frozenset(("boxes", "masks", "keypoints", "probs", "obb"))
ULTRA_TENSORS = frozenset(
    (
        "xyxy", "xywh", "xyxyn", "xywhn", "xywhr", "xyxyxyxy", "xyxyxyxyn", "conf", "cls",
        "id", "data", "xy", "xyn", "top1conf", "top5conf",
    )
)  # fmt: skip
# YOLOv5 through `torch.hub.load("ultralytics/yolov5", ...)`: on CUDA when there is one;
# its results (YOLOV5_RESULTS) hold lists of tensors there (`results.xyxy[0]`)
YOLOV5_MODEL = "yolov5.hub"
YOLOV5_RESULTS = "yolov5.results"
YOLOV5_TENSOR_LISTS = frozenset(("xyxy", "xywh", "xyxyn", "xywhn", "pred"))
# a parameter known to be a tensor only by its `.numpy()` calls
NUMPY_PARAM = "<numpy param>"
# a layer's own parameter (`linear.weight`): assigned to a module attribute, it is
# registered as that module's parameter and follows it
LAYER_PARAMETER = "<layer parameter>"


@dataclass
class ClassInfo:
    node: cst.ClassDef
    name: str
    bases: list[str]
    is_module: bool = False
    defines_to: bool = False
    # forward() moves its inputs to the module's device itself
    moves_inputs: bool = False
    # forward() parameters that must stay on the CPU (the lengths of a packed sequence)
    cpu_inputs: frozenset[str] = frozenset()
    # `self.x` attributes that methods other than __init__ rebind, or move
    rebound: set[str] = field(default_factory=set)
    moved: set[str] = field(default_factory=set)
    # runs on the CPU by construction (datasets, samplers): parameters are not symbolic
    cpu_side: bool = False
    # a module whose instances hold no tensors (no layers, parameters or buffers)
    stateless: bool = False
    methods: dict[str, cst.FunctionDef] = field(default_factory=dict)
    # self attributes after __init__, computed on demand
    attrs: Optional[dict[str, Value]] = None
    # `__init__` may place the module's state itself (`register_buffer`, `Parameter`,
    # `device=`): constructors run it with the caller's arguments
    places_state: bool = False
    # a test class whose tests run only where an accelerator is (`class_guarded`)
    gpu_only: Optional[bool] = None


@dataclass
class LoopInfo:
    targets: frozenset[str]
    # the first statement of the loop body (where a fix inserts the missing moves)
    first: Optional[cst.CSTNode] = None
    # a loop over a container's own keys or items (`for k, v in batch.items():`): the
    # container's name; and what the body stored in it under the loop's key
    # (`batch[k] = v.to(device)`: every tensor entry, whatever branch skipped the others)
    container: Optional[str] = None
    stored: Optional[Value] = None


@dataclass
class Scope:
    """The state of one analysis of one scope (module, function or method)."""

    env: dict[str, Value]
    report: bool
    func: Optional[cst.FunctionDef] = None
    cls: Optional[ClassInfo] = None
    globals: Optional[dict[str, Value]] = None
    loops: list[LoopInfo] = field(default_factory=list)
    guard: int = 0  # > 0 inside a device-availability check
    guarded_rest: bool = False  # an early exit made the rest of the scope guarded
    exited: bool = False  # the statement just analysed certainly exits (return, raise...)
    returns: list[Value] = field(default_factory=list)
    # each `return <expr>` and its value, for `FlowVisitor.check_returns`
    returned: list[tuple[cst.BaseExpression, Value]] = field(default_factory=list)
    default_device: Optional[Device] = None  # inside `with torch.device(...)`
    # devices of the parameters and buffers made here from given tensors
    # (`register_buffer("x", t)`, `nn.Parameter(t)`): where a constructor puts its module
    placements: list[Device] = field(default_factory=list)
    depth: int = 0
    receives_tensors: bool = False
    # the small statement being analysed (`FlowVisitor.requires_accelerator_here`)
    current_small: Optional[cst.CSTNode] = None
    # a callee analysed with a reporting caller's arguments: that caller's scope.  A
    # factory of the caller that meets, inside the callee, what the caller passed is
    # reported there (`mask = torch.ones(n); return self.apply(x, mask)`): the callee's
    # own analysis cannot see it
    reporter: Optional[Scope] = None
    # the tensors whose `.is_cuda` the enclosing branches tested (`if x.is_cuda:`)
    follows: list[cst.BaseExpression] = field(default_factory=list)
    # > 0 in a branch that runs only where an accelerator is (`if torch.cuda.is_available():`)
    accelerator_only: int = 0

    @property
    def guarded(self) -> bool:
        return self.guard > 0 or self.guarded_rest
