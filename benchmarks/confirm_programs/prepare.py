"""Prepare the public training programs of the `devlint confirm` benchmark (issue 15).

    python benchmarks/confirm_programs/prepare.py --snapshots /work/.mirror
    python benchmarks/confirm_programs/prepare.py --repo karpathy/nanoGPT=/path/to/nanoGPT ...

For each program of `PROGRAMS`, the files it needs are read from a local snapshot of its
repository (a checkout, or a bare git directory read at HEAD) and written twice under the
output folder (default `/tmp/confirm_programs`, never inside this repository):

* `<name>/clean/`: the program after the codemod of `Program.edits`: data loading replaced
  by small synthetic tensors or in-memory text, epochs, iterations and model sizes shrunk
  so a run takes seconds, and nothing else.  The device logic (`.to(device)`, `.cuda()`,
  the choice of device) is left as it is: an edit whose old or new code mentions a device
  is refused (`DEVICE_TOKENS`).
* `<name>/planted/`: the clean copy with one realistic device bug (`Program.plant`), made by
  the same codemod machinery.

The codemod is written with LibCST.  An edit names the source of a statement or an
expression as it appears in the repository; it matches the nodes whose Python AST is the
same (whitespace, comments and parentheses do not matter) and must match exactly `count`
of them, so a snapshot that changed upstream fails loudly instead of being prepared wrong.

`manifest.json` in the output folder lists, for `run.py`, each program's folder, commands,
source commit and planted bug (file, line, what).  The repositories' code never enters
this repository: only the edits below, which name the lines they replace, are committed.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import libcst as cst

DEFAULT_OUT = Path("/tmp/confirm_programs")

#: Code that places tensors: an edit of the clean copy may neither remove nor add any.
DEVICE_TOKENS = re.compile(r"\.to\(|\.cuda\(|\.cpu\(|\bdevice\b|cuda|\.numpy\(|map_location")


@dataclass(frozen=True)
class Edit:
    """One codemod step on one file.

    `old` is the source of a statement or an expression; every node with the same AST is
    replaced by `new` (statements may become several; `None` deletes the statement).  With
    `after_imports`, `new` is inserted after the module's leading imports instead and `old`
    is unused.  `count` is the number of matches the edit must find.
    """

    old: str
    new: Optional[str]
    why: str
    count: int = 1
    after_imports: bool = False


@dataclass(frozen=True)
class Plant:
    """The one device bug planted in a program's second copy.

    `related` names, by a piece of their text, the lines of the planted copy where a
    finding or a runtime error about this bug may sit besides the planted line itself: the
    use that raises on a GPU, the module call.  `run.py` counts a CONFIRMED finding or a
    MISSED BY STATIC error as the planted bug's only when it sits there (for an error: its
    line, or the creation or move site of one of its operands); anything else is a false
    verdict.  They come from the program's text: where PyTorch raises on a GPU.
    """

    file: str
    edit: Edit
    what: str
    related: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Program:
    """A training program of a public repository and how to prepare and run it.

    `files` maps a path in the prepared folder to a file or folder of the repository.
    `argv` is the program's command line under `devlint confirm`; `plain_argv` the plain
    run's when it must differ (a program that hard-codes `'cuda'` needs `--device=cpu` to
    run at all on a CPU-only machine); `confirm_options` go before the `--`.
    """

    name: str
    repo: str
    entry: str
    files: dict[str, str]
    argv: tuple[str, ...]
    edits: dict[str, tuple[Edit, ...]]
    plant: Plant
    plain_argv: Optional[tuple[str, ...]] = None
    confirm_options: tuple[str, ...] = ()
    note: str = ""


# --------------------------------------------------------------------------------------
# The programs.  Each edit quotes the repository's own line(s) it replaces.

_NANOGPT_DATA = '''
def synthetic_tokens(split):
    """Stand-in for data/<dataset>/<split>.bin: 4096 uint16 token ids of a 65-symbol vocabulary."""
    rng = np.random.default_rng(0 if split == 'train' else 1)
    return rng.integers(0, 65, size=4096, dtype=np.uint16)
'''

_LM_CORPUS = '''
import io
import random


def synthetic_corpus():
    """Stand-in for data/train.txt: 150 lines of words from a 40-word vocabulary."""
    rng = random.Random(0)
    words = ['w%d' % i for i in range(40)]
    lines = (' '.join(rng.choice(words) for _ in range(rng.randint(3, 12))) for _ in range(150))
    return '\\n'.join(lines) + '\\n'
'''

_BYTE_TOKENIZER = '''
class SyntheticByteTokenizer:
    """Stand-in for tiktoken's GPT-2 encoding: one token per byte (vocabulary of 256)."""

    def encode(self, text, allowed_special=None):
        return list(text.encode("utf-8"))

    def decode(self, ids):
        return bytes(ids).decode("utf-8", errors="replace")
'''

_VERDICT_TEXT = '''
def synthetic_text(n_words=600):
    """Stand-in for the-verdict.txt: lowercase ASCII words, so every byte is below 128."""
    import random
    rng = random.Random(0)
    words = ["the", "of", "and", "gisburn", "picture", "said", "his", "wife", "studio",
             "every", "effort", "moves", "you", "had", "always", "thought", "jack"]
    return " ".join(rng.choice(words) for _ in range(n_words))
'''

PROGRAMS: tuple[Program, ...] = (
    Program(
        name="nanogpt",
        repo="karpathy/nanoGPT",
        entry="train.py",
        files={
            "train.py": "train.py",
            "model.py": "model.py",
            "configurator.py": "configurator.py",
        },
        argv=("python", "train.py"),
        plain_argv=("python", "train.py", "--device=cpu"),
        note="`device = 'cuda'` is hard-coded: the plain CPU run needs `--device=cpu`; "
        "under confirm the default `cuda` runs emulated (autocast, GradScaler, fused AdamW)",
        edits={
            "train.py": (
                Edit("eval_interval = 2000", "eval_interval = 5", "iterations"),
                Edit("eval_iters = 200", "eval_iters = 2", "iterations"),
                Edit(
                    "gradient_accumulation_steps = 5 * 8",
                    "gradient_accumulation_steps = 2",
                    "sizes",
                ),
                Edit("batch_size = 12", "batch_size = 4", "sizes"),
                Edit("block_size = 1024", "block_size = 32", "sizes"),
                Edit("n_layer = 12", "n_layer = 2", "sizes"),
                Edit("n_head = 12", "n_head = 2", "sizes"),
                Edit("n_embd = 768", "n_embd = 32", "sizes"),
                Edit("max_iters = 600000", "max_iters = 10", "iterations"),
                Edit("warmup_iters = 2000", "warmup_iters = 2", "iterations"),
                Edit("lr_decay_iters = 600000", "lr_decay_iters = 10", "iterations"),
                Edit(
                    "compile = True", "compile = False", "no inductor compile in seconds-long runs"
                ),
                Edit(
                    "model_args['vocab_size'] = meta_vocab_size if meta_vocab_size is not None else 50304",
                    "model_args['vocab_size'] = meta_vocab_size if meta_vocab_size is not None else 65",
                    "vocabulary of the synthetic tokens",
                ),
                Edit("", _NANOGPT_DATA, "synthetic token stream", after_imports=True),
                Edit(
                    "np.memmap(os.path.join(data_dir, 'train.bin'), dtype=np.uint16, mode='r')",
                    "synthetic_tokens('train')",
                    "data: train.bin",
                ),
                Edit(
                    "np.memmap(os.path.join(data_dir, 'val.bin'), dtype=np.uint16, mode='r')",
                    "synthetic_tokens('val')",
                    "data: val.bin",
                ),
            ),
        },
        plant=Plant(
            file="model.py",
            edit=Edit(
                "torch.arange(0, t, dtype=torch.long, device=device)",
                "torch.arange(0, t, dtype=torch.long)",
                "plant",
            ),
            what="`device=device` dropped from the position ids `torch.arange` in `GPT.forward`",
            related=(
                ("model.py", "pos_emb = self.transformer.wpe(pos)"),
                ("model.py", "x = self.transformer.drop(tok_emb + pos_emb)"),
            ),
        ),
    ),
    Program(
        name="mingpt-adder",
        repo="karpathy/minGPT",
        entry="projects/adder/adder.py",
        files={
            "adder.py": "projects/adder/adder.py",
            "mingpt/__init__.py": "mingpt/__init__.py",
            "mingpt/model.py": "mingpt/model.py",
            "mingpt/trainer.py": "mingpt/trainer.py",
            "mingpt/utils.py": "mingpt/utils.py",
        },
        argv=("python", "adder.py"),
        note="data is generated in memory by the program itself; only sizes shrink",
        edits={
            "adder.py": (
                Edit("C.ndigit = 2", "C.ndigit = 1", "sizes: 100 addition problems"),
                Edit("trainer.iter_num % 500 == 0", "trainer.iter_num % 20 == 0", "evaluate twice"),
            ),
            "mingpt/trainer.py": (
                Edit("C.max_iters = None", "C.max_iters = 30", "iterations"),
                Edit("C.num_workers = 4", "C.num_workers = 2", "two cores"),
            ),
        },
        plant=Plant(
            file="adder.py",
            edit=Edit(
                "correct = (d3i_pred == d3i_gt).cpu()",
                "correct = (d3i_pred == d3i_gt).numpy()",
                "plant",
            ),
            what="`.cpu()` replaced by `.numpy()` on the model's predictions in `eval_split`",
        ),
    ),
    Program(
        name="cifar",
        repo="kuangliu/pytorch-cifar",
        entry="main.py",
        files={"main.py": "main.py", "utils.py": "utils.py", "models": "models"},
        argv=("python", "main.py"),
        confirm_options=("--devices", "2"),
        note="SimpleDLA, 2 DataLoader workers, `DataParallel` over every GPU when the device "
        "is `cuda`: run with two emulated GPUs, since `DataParallel` moves a module itself "
        "when it has a single device (so the planted bug is one on multi-GPU machines only)",
        edits={
            "main.py": (
                Edit("import torchvision", None, "torchvision is not installed; data below"),
                Edit("import torchvision.transforms as transforms", None, "data below"),
                Edit(
                    """transform_train = transforms.Compose([
    transforms.RandomCrop(32, padding=4),
    transforms.RandomHorizontalFlip(),
    transforms.ToTensor(),
    transforms.Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
])""",
                    None,
                    "data: transforms",
                ),
                Edit(
                    """transform_test = transforms.Compose([
    transforms.ToTensor(),
    transforms.Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
])""",
                    None,
                    "data: transforms",
                ),
                Edit(
                    "torchvision.datasets.CIFAR10(root='./data', train=True, download=True, transform=transform_train)",
                    "torch.utils.data.TensorDataset(torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,)))",
                    "data: CIFAR-10 train",
                ),
                Edit(
                    "torchvision.datasets.CIFAR10(root='./data', train=False, download=True, transform=transform_test)",
                    "torch.utils.data.TensorDataset(torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,)))",
                    "data: CIFAR-10 test",
                ),
                Edit(
                    "torch.utils.data.DataLoader(trainset, batch_size=128, shuffle=True, num_workers=2)",
                    "torch.utils.data.DataLoader(trainset, batch_size=4, shuffle=True, num_workers=2)",
                    "sizes",
                ),
                Edit(
                    "torch.utils.data.DataLoader(testset, batch_size=100, shuffle=False, num_workers=2)",
                    "torch.utils.data.DataLoader(testset, batch_size=4, shuffle=False, num_workers=2)",
                    "sizes",
                ),
                Edit(
                    "range(start_epoch, start_epoch+200)",
                    "range(start_epoch, start_epoch+1)",
                    "epochs",
                ),
            ),
            "utils.py": (
                Edit(
                    "os.popen('stty size', 'r').read().split()",
                    "['24', '80']",
                    "no terminal in a benchmark run (`stty size` prints nothing)",
                ),
            ),
        },
        plant=Plant(
            file="main.py",
            edit=Edit("net = net.to(device)", None, "plant"),
            what="`net = net.to(device)` deleted: the model stays on the CPU, then `DataParallel`",
            related=(
                ("main.py", "outputs = net(inputs)"),
                ("main.py", "net = SimpleDLA()"),
                ("main.py", "net = torch.nn.DataParallel(net)"),
            ),
        ),
    ),
    Program(
        name="rnn-lm",
        repo="yunjey/pytorch-tutorial",
        entry="tutorials/02-intermediate/language_model/main.py",
        files={
            "main.py": "tutorials/02-intermediate/language_model/main.py",
            "data_utils.py": "tutorials/02-intermediate/language_model/data_utils.py",
        },
        argv=("python", "main.py"),
        note="LSTM language model; the corpus is tokenised into a legacy `torch.LongTensor`",
        edits={
            "data_utils.py": (
                Edit("", _LM_CORPUS, "synthetic corpus", after_imports=True),
                Edit(
                    "open(path, 'r')", "io.StringIO(synthetic_corpus())", "data: train.txt", count=2
                ),
            ),
            "main.py": (
                Edit("embed_size = 128", "embed_size = 16", "sizes"),
                Edit("hidden_size = 1024", "hidden_size = 32", "sizes"),
                Edit("num_epochs = 5", "num_epochs = 1", "epochs"),
                Edit("num_samples = 1000", "num_samples = 50", "sizes"),
                Edit("batch_size = 20", "batch_size = 4", "sizes"),
                Edit("seq_length = 30", "seq_length = 10", "sizes"),
            ),
        },
        plant=Plant(
            file="main.py",
            edit=Edit(
                """states = (torch.zeros(num_layers, batch_size, hidden_size).to(device),
          torch.zeros(num_layers, batch_size, hidden_size).to(device))""",
                """states = (torch.zeros(num_layers, batch_size, hidden_size),
          torch.zeros(num_layers, batch_size, hidden_size).to(device))""",
                "plant",
            ),
            what="`.to(device)` dropped from the initial hidden state `h0` of each epoch",
            related=(
                ("main.py", "out, (h, c) = self.lstm(x, h)"),
                ("main.py", "outputs, states = model(inputs, states)"),
                ("main.py", "return [state.detach() for state in states]"),
            ),
        ),
    ),
    Program(
        name="llm-gpt-train",
        repo="rasbt/LLMs-from-scratch",
        entry="ch05/01_main-chapter-code/gpt_train.py",
        files={
            "gpt_train.py": "ch05/01_main-chapter-code/gpt_train.py",
            "previous_chapters.py": "ch05/01_main-chapter-code/previous_chapters.py",
        },
        argv=("python", "gpt_train.py"),
        note="GPT pretraining loop; saves the weights and reloads them with `torch.load` "
        "(no `map_location`)",
        edits={
            "previous_chapters.py": (
                Edit("import tiktoken", _BYTE_TOKENIZER, "tokenizer: tiktoken is not installed"),
                Edit(
                    'tiktoken.get_encoding("gpt2")',
                    "SyntheticByteTokenizer()",
                    "tokenizer",
                    count=2,
                ),
            ),
            "gpt_train.py": (
                Edit("import matplotlib.pyplot as plt", None, "no plotting"),
                Edit("import requests", None, "no download"),
                Edit(
                    "import tiktoken",
                    "from previous_chapters import SyntheticByteTokenizer",
                    "tokenizer",
                ),
                Edit("", _VERDICT_TEXT, "synthetic text", after_imports=True),
                Edit(
                    """if not os.path.exists(file_path):
    response = requests.get(url, timeout=30)
    response.raise_for_status()
    text_data = response.text
    with open(file_path, "w", encoding="utf-8") as file:
        file.write(text_data)
else:
    with open(file_path, "r", encoding="utf-8") as file:
        text_data = file.read()""",
                    "text_data = synthetic_text()",
                    "data: the-verdict.txt download",
                ),
                Edit('tiktoken.get_encoding("gpt2")', "SyntheticByteTokenizer()", "tokenizer"),
                Edit(
                    """GPT_CONFIG_124M = {
    "vocab_size": 50257,
    "context_length": 256,
    "emb_dim": 768,
    "n_heads": 12,
    "n_layers": 12,
    "drop_rate": 0.1,
    "qkv_bias": False
}""",
                    """GPT_CONFIG_124M = {
    "vocab_size": 256,
    "context_length": 32,
    "emb_dim": 32,
    "n_heads": 2,
    "n_layers": 2,
    "drop_rate": 0.1,
    "qkv_bias": False
}""",
                    "sizes",
                ),
                Edit(
                    """OTHER_SETTINGS = {
    "learning_rate": 5e-4,
    "num_epochs": 10,
    "batch_size": 2,
    "weight_decay": 0.1
}""",
                    """OTHER_SETTINGS = {
    "learning_rate": 5e-4,
    "num_epochs": 2,
    "batch_size": 2,
    "weight_decay": 0.1
}""",
                    "epochs",
                ),
                Edit(
                    "plot_losses(epochs_tensor, tokens_seen, train_losses, val_losses)",
                    None,
                    "no plotting",
                ),
                Edit('plt.savefig("loss.pdf")', None, "no plotting"),
            ),
        },
        plant=Plant(
            file="gpt_train.py",
            edit=Edit(
                "input_batch, target_batch = input_batch.to(device), target_batch.to(device)",
                "input_batch = input_batch.to(device)",
                "plant",
            ),
            what="the target batch is no longer moved in `calc_loss_batch` (`.to(device)` dropped)",
            related=(
                (
                    "gpt_train.py",
                    "loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), target_batch",
                ),
                (
                    "gpt_train.py",
                    "loss = calc_loss_batch(input_batch, target_batch, model, device)",
                ),
            ),
        ),
    ),
    Program(
        name="llm-ddp",
        repo="rasbt/LLMs-from-scratch",
        entry="appendix-A/01_main-chapter-code/DDP-script-torchrun.py",
        files={"ddp_script_torchrun.py": "appendix-A/01_main-chapter-code/DDP-script-torchrun.py"},
        argv=("torchrun", "--standalone", "--nproc-per-node", "2", "ddp_script_torchrun.py"),
        confirm_options=("--devices", "2"),
        note="DDP, two processes, `init_process_group('nccl')`, `.to(rank)`; the toy data is "
        "already in memory (no edit); the plain run needs two GPUs and NCCL",
        edits={},
        plant=Plant(
            file="ddp_script_torchrun.py",
            edit=Edit(
                "features, labels = features.to(rank), labels.to(rank)",
                "features = features.to(rank)\nlabels.to(rank)",
                "plant",
            ),
            what="`labels.to(rank)` in the training loop, its result discarded",
            related=(
                ("ddp_script_torchrun.py", "loss = F.cross_entropy(logits, labels)"),
                ("ddp_script_torchrun.py", "for features, labels in train_loader:"),
            ),
        ),
    ),
)


# --------------------------------------------------------------------------------------
# Snapshots


class Snapshot:
    """A repository on this machine: a work tree, or a bare git directory read at HEAD."""

    def __init__(self, repo: str, path: Path) -> None:
        self.repo = repo
        self.path = path
        self.bare = (path / "HEAD").is_file() and (path / "objects").is_dir()
        self.commit = self._commit()

    def _git(self, *args: str) -> bytes:
        return subprocess.run(
            ["git", f"--git-dir={self.path}", *args], check=True, capture_output=True
        ).stdout

    def _commit(self) -> str:
        if self.bare:
            return self._git("rev-parse", "HEAD").decode().strip()
        if (self.path / ".git").exists():
            out = subprocess.run(
                ["git", "-C", str(self.path), "rev-parse", "HEAD"], capture_output=True, text=True
            )
            if out.returncode == 0:
                return out.stdout.strip()
        return "work tree (no git)"

    def files_under(self, rel: str) -> list[str]:
        """The `.py` files at or under `rel` (a file or a folder of the repository)."""
        if self.bare:
            names = self._git("ls-tree", "-r", "--name-only", "HEAD", "--", rel).decode().split()
            return sorted(n for n in names if n == rel or n.endswith(".py"))
        target = self.path / rel
        if target.is_file():
            return [rel]
        return sorted(str(p.relative_to(self.path)) for p in target.rglob("*.py"))

    def read(self, rel: str) -> str:
        """The text of one file."""
        if self.bare:
            return self._git("show", f"HEAD:{rel}").decode("utf-8")
        return (self.path / rel).read_text(encoding="utf-8")


def find_snapshot(repo: str, explicit: dict[str, Path], roots: list[Path]) -> Snapshot:
    """Find `owner/name` among the explicit paths, then as `ROOT/owner+name[/repo]`."""
    if repo in explicit:
        return Snapshot(repo, explicit[repo])
    key = repo.replace("/", "+")
    for root in roots:
        for candidate in (root / key / "repo", root / key):
            if candidate.is_dir():
                return Snapshot(repo, candidate)
    raise SystemExit(
        f"no snapshot of {repo}: pass --repo {repo}=PATH or a --snapshots folder holding {key}/"
    )


# --------------------------------------------------------------------------------------
# The codemod


def _stmt_ast(code: str) -> str:
    return ast.dump(ast.parse(textwrap.dedent(code).strip()))


def _expr_ast(code: str) -> Optional[str]:
    try:
        return ast.dump(ast.parse(code.strip(), mode="eval"))
    except SyntaxError:
        return None


def _is_expression_edit(edit: Edit) -> bool:
    """An edit of an expression when both sides parse as one, a statement edit otherwise."""
    return (
        edit.new is not None and _expr_ast(edit.old) is not None and _expr_ast(edit.new) is not None
    )


_Replacement = Union[cst.CSTNode, cst.FlattenSentinel, cst.RemovalSentinel]


class _EditTransformer(cst.CSTTransformer):
    """Applies the statement and expression edits of one file, counting the matches."""

    def __init__(self, module: cst.Module, edits: list[Edit]) -> None:
        super().__init__()
        self.module = module
        self.edits = edits
        self.matches = [0] * len(edits)
        self.expr_edits: list[tuple[int, type, str]] = []
        self.stmt_edits: list[tuple[int, type, str]] = []
        for i, edit in enumerate(edits):
            if edit.after_imports:
                continue
            if _is_expression_edit(edit):
                node_type = type(cst.parse_expression(edit.old.strip()))
                self.expr_edits.append((i, node_type, _expr_ast(edit.old) or ""))
            else:
                node_type = type(cst.parse_statement(textwrap.dedent(edit.old).strip() + "\n"))
                self.stmt_edits.append((i, node_type, _stmt_ast(edit.old)))

    def _match(self, node: cst.CSTNode, table: list[tuple[int, type, str]], expr: bool) -> int:
        candidates = [(i, key) for i, node_type, key in table if type(node) is node_type]
        if not candidates:
            return -1
        code = self.module.code_for_node(node)
        key = _expr_ast(code) if expr else _safe_stmt_ast(code)
        for i, wanted in candidates:
            if key == wanted:
                return i
        return -1

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> _Replacement:
        if isinstance(original_node, cst.BaseExpression) and self.expr_edits:
            i = self._match(original_node, self.expr_edits, expr=True)
            if i >= 0:
                self.matches[i] += 1
                new = cst.parse_expression(str(self.edits[i].new).strip())
                return new.with_changes(lpar=original_node.lpar, rpar=original_node.rpar)
        if isinstance(original_node, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            i = self._match(original_node, self.stmt_edits, expr=False)
            if i >= 0:
                self.matches[i] += 1
                new_code = self.edits[i].new
                if new_code is None:
                    return cst.RemoveFromParent()
                body = cst.parse_module(textwrap.dedent(new_code).strip() + "\n").body
                first = body[0].with_changes(leading_lines=original_node.leading_lines)
                return cst.FlattenSentinel([first, *body[1:]])
        return updated_node


def _safe_stmt_ast(code: str) -> Optional[str]:
    try:
        return _stmt_ast(code)
    except SyntaxError:
        return None


def _insert_after_imports(module: cst.Module, code: str) -> cst.Module:
    """Insert `code` after the module's docstring and leading imports."""
    body = list(module.body)

    def is_header(stmt: cst.CSTNode) -> bool:
        return isinstance(stmt, cst.SimpleStatementLine) and all(
            isinstance(s, (cst.Import, cst.ImportFrom))
            or (isinstance(s, cst.Expr) and isinstance(s.value, cst.SimpleString))
            for s in stmt.body
        )

    index = 0
    while index < len(body) and is_header(body[index]):
        index += 1
    new = list(cst.parse_module(textwrap.dedent(code).strip() + "\n\n").body)
    new[0] = new[0].with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine()])
    return module.with_changes(body=[*body[:index], *new, *body[index:]])


def apply_edits(source: str, edits: list[Edit], where: str, guard_devices: bool) -> str:
    """Apply `edits` to `source`; fail when an edit matches other than `count` times."""
    for edit in edits:
        if guard_devices and (
            DEVICE_TOKENS.search(edit.old) or DEVICE_TOKENS.search(edit.new or "")
        ):
            raise SystemExit(f"{where}: the edit {edit.old!r} touches device logic ({edit.why})")
    module = cst.parse_module(source)
    transformer = _EditTransformer(module, edits)
    module = module.visit(transformer)
    for i, edit in enumerate(edits):
        if edit.after_imports:
            continue
        if transformer.matches[i] != edit.count:
            raise SystemExit(
                f"{where}: edit {edit.old.splitlines()[0]!r} matched {transformer.matches[i]} "
                f"times, expected {edit.count} (did the snapshot change?)"
            )
    for edit in edits:
        if edit.after_imports:
            module = _insert_after_imports(module, str(edit.new))
    code = module.code
    compile(code, where, "exec")
    return code


def _first_change(before: str, after: str) -> tuple[int, int, str]:
    """Where `after` first differs from `before`: (line in before, line in after, tag)."""
    matcher = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False)
    for tag, i1, _i2, j1, _j2 in matcher.get_opcodes():
        if tag != "equal":
            return i1 + 1, j1 + 1, tag
    raise SystemExit("the plant changed nothing")


def _changed_lines(before: str, after: str) -> list[int]:
    """The lines of `after` that differ from `before` (a deletion: the line after it)."""
    matcher = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False)
    lines: list[int] = []
    for tag, _i1, _i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            lines.extend(range(j1 + 1, max(j2, j1 + 1) + 1))
    return lines


# --------------------------------------------------------------------------------------


def prepare(program: Program, snapshot: Snapshot, out: Path) -> dict:
    """Write the clean and planted copies of one program; return its manifest entry."""
    root = out / program.name
    if root.exists():
        shutil.rmtree(root)
    clean, planted = root / "clean", root / "planted"
    sources: dict[str, str] = {}
    for dest, src in program.files.items():
        for rel in snapshot.files_under(src):
            target = dest if rel == src else f"{dest}/{rel[len(src) + 1 :]}"
            sources[target] = snapshot.read(rel)
    unknown = set(program.edits) - set(sources)
    if unknown or program.plant.file not in sources:
        raise SystemExit(f"{program.name}: edits name files that were not copied: {unknown}")
    for rel, text in sources.items():
        edits = list(program.edits.get(rel, ()))
        if edits:
            text = apply_edits(text, edits, f"{program.name}/{rel}", guard_devices=True)
        (clean / rel).parent.mkdir(parents=True, exist_ok=True)
        (clean / rel).write_text(text, encoding="utf-8")
    shutil.copytree(clean, planted)
    before = (clean / program.plant.file).read_text(encoding="utf-8")
    after = apply_edits(
        before, [program.plant.edit], f"{program.name}/{program.plant.file}", guard_devices=False
    )
    (planted / program.plant.file).write_text(after, encoding="utf-8")
    clean_line, planted_line, tag = _first_change(before, after)
    before_lines, after_lines = before.splitlines(), after.splitlines()
    changed = _changed_lines(before, after)
    related = [{"file": program.plant.file, "line": n} for n in changed]
    for rel, text in program.plant.related:
        lines = (planted / rel).read_text(encoding="utf-8").splitlines()
        found = [n for n, line in enumerate(lines, 1) if text in line]
        if not found:
            raise SystemExit(f"{program.name}: no line of {rel} holds {text!r}")
        related.extend({"file": rel, "line": n} for n in found)
    return {
        "name": program.name,
        "repo": program.repo,
        "commit": snapshot.commit,
        "entry": program.entry,
        "note": program.note,
        "argv": list(program.argv),
        "plain_argv": list(program.plain_argv or program.argv),
        "confirm_options": list(program.confirm_options),
        "edits": {rel: [e.why for e in edits] for rel, edits in program.edits.items()},
        "variants": {"clean": str(clean), "planted": str(planted)},
        "plant": {
            "file": program.plant.file,
            # the planted line in the planted copy; for a deletion, the deleted line of the
            # clean copy (the planted copy has no such line)
            "line": clean_line if tag == "delete" else planted_line,
            "deleted": tag == "delete",
            "what": program.plant.what,
            "before": before_lines[clean_line - 1].strip(),
            "after": "" if tag == "delete" else after_lines[planted_line - 1].strip(),
            "related": related,
        },
    }


def main(argv: Optional[list[str]] = None) -> int:
    """Command line: prepare every program (or those named) and write the manifest."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--snapshots",
        action="append",
        type=Path,
        default=[],
        help="a folder holding owner+name/ (checkout) or owner+name/repo (bare git); repeatable",
    )
    parser.add_argument(
        "--repo",
        action="append",
        default=[],
        metavar="OWNER/NAME=PATH",
        help="the snapshot of one repository (checkout or bare git directory)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default {DEFAULT_OUT}")
    parser.add_argument("--only", nargs="*", help="prepare only these programs")
    args = parser.parse_args(argv)

    here = Path(__file__).resolve()
    out = args.out.resolve()
    repo_root = here.parents[2]
    if out == repo_root or repo_root in out.parents:
        raise SystemExit(f"{out} is inside this repository: the programs must stay out of it")
    explicit = {}
    for item in args.repo:
        name, _, path = item.partition("=")
        explicit[name] = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    entries: dict[str, dict] = {}
    if manifest_path.exists() and args.only:
        entries = {e["name"]: e for e in json.loads(manifest_path.read_text())["programs"]}
    for program in PROGRAMS:
        if args.only and program.name not in args.only:
            continue
        snapshot = find_snapshot(program.repo, explicit, args.snapshots)
        entry = prepare(program, snapshot, out)
        entries[program.name] = entry
        plant = entry["plant"]
        print(
            f"{program.name:14} {program.repo}@{snapshot.commit[:12]}  planted "
            f"{plant['file']}:{plant['line']}: {plant['what']}",
            file=sys.stderr,
        )
    order = [p.name for p in PROGRAMS]
    manifest = {"programs": sorted(entries.values(), key=lambda e: order.index(e["name"]))}
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(manifest_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
