"""Mining query: list commits whose diffs to .py files look like device-placement fixes.

Usage:
    python benchmarks/realbugs/mine.py [--mirror /work/.mirror] [--out candidates.jsonl]
                                       [--repo owner/name ... | --all] [--max-changed 400]

Reads bare git directories (as the `fetch` tool lays them out: MIRROR/owner+name/repo,
or MIRROR/owner+name/repo/.git) with `git log -p -U0`, never a work tree.  For every
non-merge commit it pairs each removed line of a hunk with its most similar added line
that carries a device token (difflib ratio > 0.5) and applies the diff patterns below;
the commit is a candidate when one pattern fires, or when its message talks about devices
and the diff touches a device token.  One JSON object a line goes to --out (default stdout), with the patterns that fired
and the matching lines, so a person can read the diff and decide.

The patterns (name: what the +/- lines of one hunk show):

    factory-device      a tensor factory (torch.zeros/ones/empty/full/arange/linspace/eye/
                        rand*/tensor/as_tensor/...Tensor) gains `device=` on the paired line
    factory-like        `torch.zeros(...)` becomes `torch.zeros_like(...)`/`x.new_zeros(...)`
                        or `x.new_tensor(...)`, which follow the other tensor's device
    to-added            `.to(`/`.cuda(`/`.type_as(` appear on a line whose pair lacked them
    cpu-before-numpy    `.numpy()` gains a `.cpu()` (or `.detach().cpu()`) before it
    map-location        `torch.load(` gains `map_location`
    register-buffer     a line `self.register_buffer(` is added where `self.NAME =` was removed
    discarded-to        `x.to(...)`/`x.cuda()` as a bare statement becomes `x = x.to(...)`
    hardcoded-cuda      a literal 'cuda'/"cuda:0"/`.cuda()` is removed and a device
                        expression (`device`, `.device`, `.to(`) comes in its place
    message             the subject/body mentions device/cuda/cpu/gpu and the diff adds a
                        device token (`device`, `.to(`, `.cuda(`, `.cpu(`, `map_location`)

Commits changing more than --max-changed .py lines are kept but flagged `large`.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import subprocess
import sys
from pathlib import Path

# Repositories reserved for evaluation: never mined.
RESERVED = {
    "Lightning-AI/pytorch-lightning", "Lightning-AI/torchmetrics", "allenai/allennlp",
    "cornellius-gp/gpytorch", "eriklindernoren/PyTorch-GAN", "facebookresearch/fairseq",
    "facebookresearch/pytorch3d", "huggingface/accelerate", "huggingface/diffusers",
    "huggingface/pytorch-image-models", "huggingface/trl", "kornia/kornia",
    "lucidrains/denoising-diffusion-pytorch", "lucidrains/vit-pytorch", "openai/whisper",
    "pyg-team/pytorch_geometric", "pyro-ppl/pyro", "pytorch/botorch", "pytorch/examples",
    "pytorch/ignite", "speechbrain/speechbrain", "ultralytics/yolov5",
}

FACTORIES = (
    r"zeros|ones|empty|full|arange|range|linspace|logspace|eye|rand|randn|randint|randperm|"
    r"tensor|as_tensor|from_numpy|normal|bernoulli|tril_indices|triu_indices|"
    r"FloatTensor|LongTensor|Tensor|ByteTensor|BoolTensor|IntTensor|DoubleTensor|HalfTensor"
)
FACTORY_RE = re.compile(r"\btorch\.(?:" + FACTORIES + r")\s*\(")
LIKE_RE = re.compile(r"\b(?:torch\.(?:zeros|ones|empty|full|rand|randn|randint)_like|"
                     r"\.new_(?:zeros|ones|empty|full|tensor)|\.new\()\s*\(?")
TO_RE = re.compile(r"\.(?:to|cuda|type_as)\s*\(")
NUMPY_RE = re.compile(r"\.numpy\s*\(")
CPU_NUMPY_RE = re.compile(r"\.cpu\s*\(\s*\)(?:\s*\.\s*(?:detach|data|clone)\s*(?:\(\s*\))?)*\s*\.numpy\s*\(")
LOAD_RE = re.compile(r"\btorch\.load\s*\(")
BUFFER_RE = re.compile(r"\bregister_buffer\s*\(\s*['\"](\w+)")
SELF_ASSIGN_RE = re.compile(r"^\s*self\.(\w+)\s*=")
BARE_TO_RE = re.compile(r"^\s*([\w.\[\]'\"]+)\.(?:to|cuda|cpu)\s*\([^=]*\)\s*(?:#.*)?$")
ASSIGN_TO_RE = re.compile(r"^\s*([\w.\[\]'\"]+)\s*=\s*\1\.(?:to|cuda|cpu)\s*\(")
CUDA_LIT_RE = re.compile(r"""['"]cuda(?::\d+)?['"]|\.cuda\s*\(\s*\)""")
DEVICE_EXPR_RE = re.compile(r"\bdevice\b|\.device\b|\.to\s*\(")
DEVICE_TOKEN_RE = re.compile(r"\bdevice\b|\.to\s*\(|\.cuda\s*\(|\.cpu\s*\(|map_location")
MESSAGE_RE = re.compile(r"\b(?:device|devices|cuda|cpu|gpu|gpus|multi-?gpu)\b", re.I)

# The repositories mined for the development set (benchmarks/realbugs/README.md); --all mines
# every non-reserved snapshot under --mirror instead.
MINED = [
    "BorealisAI/advertorch", "DLR-RM/stable-baselines3", "DeepGraphLearning/torchdrug",
    "Harry24k/adversarial-attacks-pytorch", "JaidedAI/EasyOCR", "KevinMusgrave/pytorch-metric-learning",
    "NVIDIA/apex", "OpenNMT/OpenNMT-py", "PetrochukM/PyTorch-NLP", "Project-MONAI/MONAI",
    "TylerYep/torchinfo", "UKPLab/sentence-transformers", "asteroid-team/asteroid", "coqui-ai/TTS",
    "dmlc/dgl", "dreamquark-ai/tabnet", "e3nn/e3nn", "facebookresearch/ClassyVision",
    "facebookresearch/detectron2", "facebookresearch/detr", "facebookresearch/dinov2",
    "facebookresearch/fvcore", "facebookresearch/pytorchvideo", "fepegar/torchio", "flairNLP/flair",
    "graykode/nlp-tutorial", "huggingface/peft", "jacobgil/pytorch-grad-cam", "jdb78/pytorch-forecasting",
    "karpathy/nanoGPT", "lanpa/tensorboardX", "lucidrains/x-transformers", "microsoft/torchgeo",
    "mlfoundations/open_clip", "open-mmlab/mmcv", "openai/CLIP", "pyannote/pyannote-audio",
    "pytorch/captum", "pytorch/opacus", "pytorch/rl", "pytorch/tnt", "rasbt/LLMs-from-scratch",
    "rtqichen/torchdiffeq", "rusty1s/pytorch_scatter", "sbi-dev/sbi", "shap/shap", "skorch-dev/skorch",
    "sksq96/pytorch-summary", "thu-ml/tianshou", "timesler/facenet-pytorch", "unit8co/darts",
]

COMMIT_MARK = "\x1ecommit "


def git_dir(repo_dir: Path) -> Path:
    return repo_dir / ".git" if (repo_dir / ".git").is_dir() else repo_dir


def repo_name(entry: Path) -> str:
    return entry.name.replace("+", "/", 1)


def strip_comment(line: str) -> str:
    # Good enough for a query: drops a trailing comment that is not inside a string.
    return re.sub(r"\s+#[^'\"]*$", "", line)


RELEVANT_RE = re.compile(r"device|\.to\s*\(|\.cuda\s*\(|\.type_as\s*\(|\.cpu\s*\(|map_location|_like\s*\(|\.new_?\w*\(")


def pair_lines(removed: list[str], added: list[str]) -> list[tuple[str, str]]:
    """Pair each removed line with its most similar added line that has a device token."""
    pairs = []
    added = [x for x in added if RELEVANT_RE.search(x)]
    if len(removed) * len(added) > 40000:  # a rewrite, not a fix: pair nothing
        return pairs
    for old in removed:
        best, best_ratio = None, 0.5
        for new in added:
            sm = difflib.SequenceMatcher(None, old.strip(), new.strip())
            if sm.real_quick_ratio() <= best_ratio or sm.quick_ratio() <= best_ratio:
                continue
            ratio = sm.ratio()
            if ratio > best_ratio:
                best, best_ratio = new, ratio
        if best is not None:
            pairs.append((old, best))
    return pairs


def hunk_patterns(removed: list[str], added: list[str]) -> dict[str, list[str]]:
    hits: dict[str, list[str]] = {}

    def hit(name: str, old: str | None, new: str) -> None:
        hits.setdefault(name, []).append((f"- {old.strip()} " if old else "") + f"+ {new.strip()}")

    removed = [strip_comment(x) for x in removed if x.strip() and not x.strip().startswith("#")]
    added = [strip_comment(x) for x in added if x.strip() and not x.strip().startswith("#")]
    for old, new in pair_lines(removed, added):
        if FACTORY_RE.search(new) and "device" in new and "device" not in old and FACTORY_RE.search(old):
            hit("factory-device", old, new)
        if LIKE_RE.search(new) and not LIKE_RE.search(old) and FACTORY_RE.search(old):
            hit("factory-like", old, new)
        if TO_RE.search(new) and len(TO_RE.findall(new)) > len(TO_RE.findall(old)):
            hit("to-added", old, new)
        if NUMPY_RE.search(new) and CPU_NUMPY_RE.search(new) and NUMPY_RE.search(old) \
                and len(CPU_NUMPY_RE.findall(new)) > len(CPU_NUMPY_RE.findall(old)):
            hit("cpu-before-numpy", old, new)
        if LOAD_RE.search(new) and "map_location" in new and "map_location" not in old:
            hit("map-location", old, new)
        m_old = BARE_TO_RE.match(old)
        m_new = ASSIGN_TO_RE.match(new)
        if m_old and m_new and m_old.group(1) == m_new.group(1):
            hit("discarded-to", old, new)
        if CUDA_LIT_RE.search(old) and len(CUDA_LIT_RE.findall(new)) < len(CUDA_LIT_RE.findall(old)) \
                and DEVICE_EXPR_RE.search(new):
            hit("hardcoded-cuda", old, new)
    # Unpaired shapes.
    if any(BUFFER_RE.search(x) for x in added):
        assigned = {m.group(1) for x in removed if (m := SELF_ASSIGN_RE.match(x))}
        for x in added:
            m = BUFFER_RE.search(x)
            if m and m.group(1) in assigned:
                hit("register-buffer", None, x)
    if any(CPU_NUMPY_RE.search(x) for x in added) and "cpu-before-numpy" not in hits:
        if any(NUMPY_RE.search(x) and not CPU_NUMPY_RE.search(x) for x in removed):
            for x in added:
                if CPU_NUMPY_RE.search(x):
                    hit("cpu-before-numpy", None, x)
    if any(LOAD_RE.search(x) and "map_location" not in x for x in removed) \
            and any("map_location" in x for x in added) and "map-location" not in hits:
        hit("map-location", None, next(x for x in added if "map_location" in x))
    return hits


def mine_repo(entry: Path, max_changed: int):
    gdir = git_dir(entry / "repo")
    cmd = ["git", "--git-dir", str(gdir), "log", "--no-merges", "--no-renames", "-p", "-U0",
           "--no-color", "--format=" + COMMIT_MARK + "%H %P%n%an%n%aI%n%B%x1f", "HEAD", "--", "*.py"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    name = repo_name(entry)
    commit: dict | None = None
    in_message = False
    message: list[str] = []
    path = None
    removed: list[str] = []
    added: list[str] = []

    def flush_hunk() -> None:
        if commit is not None and (removed or added):
            for pat, lines in hunk_patterns(removed, added).items():
                commit["patterns"].setdefault(pat, []).extend(f"{path}: {x}" for x in lines[:3])
                commit["paths"].add(path)
            if any(DEVICE_TOKEN_RE.search(x) for x in added):
                commit["device_token"] = True
        removed.clear()
        added.clear()

    def finish():
        flush_hunk()
        if commit is None:
            return None
        msg = commit["message"]
        if MESSAGE_RE.search(msg) and commit.pop("device_token", False):
            commit["patterns"].setdefault("message", [])
        commit.pop("device_token", None)
        if not commit["patterns"]:
            return None
        return {
            "repo": name,
            "commit": commit["commit"],
            "parent": commit["parent"],
            "date": commit["date"],
            "subject": msg.strip().splitlines()[0] if msg.strip() else "",
            "patterns": sorted(commit["patterns"]),
            "evidence": {k: v[:6] for k, v in sorted(commit["patterns"].items())},
            "paths": sorted(p for p in commit["paths"] if p),
            "py_files": commit["files"],
            "changed_lines": commit["changed"],
            "large": commit["changed"] > max_changed,
        }

    for raw in proc.stdout:
        line = raw.decode("utf-8", "replace").rstrip("\n")
        if line.startswith(COMMIT_MARK):
            out = finish()
            if out:
                yield out
            shas = line[len(COMMIT_MARK):].split()
            commit = {"commit": shas[0], "parent": shas[1] if len(shas) > 1 else None,
                      "patterns": {}, "paths": set(), "files": 0, "changed": 0}
            in_message, message = True, []
            header = 0
            continue
        if commit is None:
            continue
        if in_message:
            if header < 2:  # author, date
                if header == 1:
                    commit["date"] = line
                header += 1
                continue
            if line.endswith("\x1f"):
                message.append(line[:-1])
                commit["message"] = "\n".join(message)
                in_message = False
            else:
                message.append(line)
            continue
        if line.startswith("diff --git "):
            flush_hunk()
            path = line.split(" b/", 1)[-1]
            commit["files"] += 1
        elif line.startswith("@@"):
            flush_hunk()
        elif line.startswith("+++") or line.startswith("---"):
            continue
        elif line.startswith("+"):
            added.append(line[1:])
            commit["changed"] += 1
        elif line.startswith("-"):
            removed.append(line[1:])
            commit["changed"] += 1
    out = finish()
    if out:
        yield out
    proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--repo", action="append", help="owner/name (default: the MINED list)")
    parser.add_argument("--all", action="store_true", help="mine every non-reserved snapshot under --mirror")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--max-changed", type=int, default=400)
    args = parser.parse_args()
    entries = sorted(p for p in args.mirror.iterdir() if (p / "repo").is_dir())
    if not args.all:
        wanted = set(args.repo or MINED)
        missing = wanted - {repo_name(p) for p in entries}
        for name in sorted(missing):
            print(f"missing snapshot: {name} (fetch it first)", file=sys.stderr)
        entries = [p for p in entries if repo_name(p) in wanted]
    out = open(args.out, "w") if args.out else sys.stdout
    for entry in entries:
        name = repo_name(entry)
        if name in RESERVED:
            print(f"skip {name}: reserved for evaluation", file=sys.stderr)
            continue
        n = 0
        for cand in mine_repo(entry, args.max_changed):
            out.write(json.dumps(cand) + "\n")
            n += 1
        out.flush()
        print(f"{name}: {n} candidates", file=sys.stderr)


if __name__ == "__main__":
    main()
