"""Observations of the emulated accelerator, printed as one JSON object (see
tests/test_runtime_emulation.py).  Run under `devlint confirm --device emulated`."""

import copy
import io
import json
import pickle
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, TensorDataset

out = {}


def check(name):
    def deco(fn):
        try:
            out[name] = fn()
        except Exception as exc:
            out[name] = {"error": type(exc).__name__, "message": str(exc)}
        return fn

    return deco


@check("basics")
def _():
    x = torch.arange(3.0).to("cuda")
    return {
        "device": str(x.device),
        "is_cuda": x.is_cuda,
        "type": x.type(),
        "get_device": x.get_device(),
        "repr": repr(x),
        "repr_int": repr(torch.tensor([1, 2], dtype=torch.int32, device="cuda")),
        "format": f"{x.sum():.2f}",
        "item": x.sum().item(),
        "tolist": x.tolist(),
        "available": torch.cuda.is_available(),
        "count": torch.cuda.device_count(),
        "name": torch.cuda.get_device_name(0),
        "cpu_back": str(x.cpu().device),
        "cpu_type": type(x.cpu()).__name__,
        "to_same_is_self": x.to("cuda") is x,
        "half": str(x.half().dtype) + " " + str(x.half().device),
        "new_tensor": str(x.new_tensor([1.0]).device),
        "zeros_like_cpu": str(torch.zeros_like(x, device="cpu").device),
        "tensor_of": str(torch.tensor(x).device),
        "as_tensor": torch.as_tensor(x) is x,
        "cuda_method": str(torch.ones(2).cuda().device),
        "type_cuda": torch.ones(2).type("torch.cuda.DoubleTensor").type(),
    }


@check("numpy")
def _():
    x = torch.ones(2, device="cuda")
    try:
        x.numpy()
    except TypeError as exc:
        err = str(exc)
    return {"error": err, "cpu_numpy": x.cpu().numpy().tolist()}


@check("module")
def _():
    model = nn.Linear(4, 2)
    weight = model.weight
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model.to("cuda")
    same_after_to = model.weight is weight
    loss = model(torch.randn(3, 4, device="cuda")).sum()
    loss.backward()
    opt.step()
    moved = str(weight.device)
    grad = str(weight.grad.device)
    model.cpu()
    return {
        "identity_to": same_after_to,
        "device": moved,
        "grad": grad,
        "identity_cpu": model.weight is weight,
        "after_cpu": str(model.weight.device),
        "isinstance_param": isinstance(model.weight, nn.Parameter),
        "deepcopy": str(copy.deepcopy(model.to("cuda")).weight.device),
        "state_dict": str(model.state_dict()["weight"].device),
        "param_repr": repr(model.bias).startswith("Parameter containing:"),
    }


@check("gradients_cross_devices")
def _():
    x = torch.randn(3, requires_grad=True)
    y = (x.to("cuda") * 2).sum()
    y.backward()
    return {"x_grad": str(x.grad.device), "value": x.grad.tolist()}


@check("default_device")
def _():
    torch.set_default_device("cuda")
    try:
        a = str(torch.zeros(2).device)
    finally:
        torch.set_default_device(None)
    with torch.device("cuda"):
        b = str(torch.ones(2).device)
    return {"set_default_device": a, "with_device": b, "after": str(torch.zeros(1).device)}


@check("checkpoint")
def _():
    model = nn.Linear(2, 2).to("cuda")
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    raw = buf.getvalue()
    buf.seek(0)
    again = torch.load(buf)
    buf.seek(0)
    cpu = torch.load(buf, map_location="cpu", weights_only=True)
    return {
        "no_harness_class": b"devlint" not in raw and b"Emulated" not in raw,
        "tagged_cuda": b"cuda:0" in raw,
        "load": str(again["weight"].device),
        "load_cpu": str(cpu["weight"].device) + " " + type(cpu["weight"]).__name__,
        "values": torch.equal(cpu["weight"], model.weight.detach().cpu()),
        "pickle": type(pickle.loads(pickle.dumps(torch.ones(1, device="cuda")))).__name__,
    }


@check("invalid_ordinal")
def _():
    torch.ones(1).to("cuda:1")


@check("index_cuda_indices_on_cpu_tensor")
def _():
    torch.arange(5.0)[torch.tensor([0, 1], device="cuda")]


@check("cpu_indices_on_cuda_tensor")
def _():
    return torch.arange(5.0, device="cuda")[torch.tensor([0, 1])].tolist()


@check("cpu_scalars")
def _():
    x = torch.ones(3, device="cuda")
    a = (x + torch.tensor(2.0)).tolist()
    b = torch.where(x > 0, torch.tensor(1.0), torch.tensor(0.0)).tolist()
    return {"add": a, "where": b}


@check("foreach_mixed")
def _():
    torch._foreach_add_([torch.ones(2, device="cuda")], [torch.ones(2)])


@check("functional_loss_weight_on_cpu")
def _():
    # `F.binary_cross_entropy` expands `weight=` with the mode off: the view is the CPU
    # weight the program made, and the CUDA kernel's `loss.mul_(weight)` rejects it
    p = torch.rand(2, 3, device="cuda")
    F.binary_cross_entropy(p, torch.rand(2, 3, device="cuda"), weight=torch.ones(2, 3))


@check("inplace_and_views")
def _():
    x = torch.zeros(2, 3, device="cuda")
    y = x.add_(1)
    v = x[0]
    v.mul_(5)
    x.unsqueeze_(0)
    return {"same": y is x, "values": x.tolist(), "shape": list(x.shape)}


@check("amp")
def _():
    model = nn.Linear(8, 8).to("cuda")
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cuda")
    with torch.autocast("cuda"):
        out = model(torch.randn(4, 8, device="cuda"))
        dtype = str(out.dtype)
    loss = out.float().pow(2).mean()
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
    return {"dtype": dtype, "scale": float(scaler.get_scale()), "device": str(out.device)}


@check("compile")
def _():
    model = nn.Linear(2, 2).to("cuda")
    compiled = torch.compile(model)
    return str(compiled(torch.ones(1, 2, device="cuda")).device)


@check("streams")
def _():
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        x = torch.ones(2, device="cuda")
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    end.record()
    torch.cuda.synchronize()
    return {
        "elapsed": start.elapsed_time(end) >= 0,
        "allocated": torch.cuda.memory_allocated(),
        "x": str(x.device),
    }


class Probe(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return torch.tensor([float(torch.cuda.is_available())])


@check("dataloader")
def _():
    pinned = [
        b.is_pinned()
        for (b,) in DataLoader(TensorDataset(torch.ones(4, 2)), batch_size=2, pin_memory=True)
    ]
    spawn = DataLoader(Probe(), batch_size=2, num_workers=2, multiprocessing_context="spawn")
    seen = [b.flatten().tolist() for b in spawn]
    return {"pinned_batches": len(pinned), "workers_see_cuda": seen}


@check("rnn")
def _():
    lstm = nn.LSTM(4, 8, batch_first=True).to("cuda")
    out, (_h, _c) = lstm(torch.randn(2, 3, 4, device="cuda"))
    return str(out.device)


@check("lazy")
def _():
    net = nn.Sequential(nn.LazyConv2d(4, 3), nn.LazyBatchNorm2d(), nn.Flatten(), nn.LazyLinear(2))
    net = net.to("cuda")
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    loss = net(torch.randn(2, 3, 6, 6, device="cuda")).square().mean()
    loss.backward()
    opt.step()
    try:
        net(torch.randn(2, 3, 6, 6))
        mixed = "no error"
    except RuntimeError as exc:
        mixed = str(exc).split(",")[0]
    return {
        "weight": str(net[0].weight.device),
        "is_param": isinstance(net[3].weight, nn.Parameter),
        "grad": str(net[3].weight.grad.device),
        "buffer": str(net[1].running_mean.device),
        "stepped": len(opt.state) == 0 and bool(net[3].weight.grad.abs().sum() > 0),
        "cpu_input": mixed,
    }


print(json.dumps(out))
sys.stdout.flush()
