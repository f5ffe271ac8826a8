"""Time from `didChange` to `publishDiagnostics` in `devlint server`, debounce excluded.

Starts the real server (`python -m devlint server`, `debounceMs: 0`), opens a generated
300-line and 2,000-line training module, and sends 20 edits to each, waiting for the
diagnostics of each version before the next.  Every edit changes the content and the
findings: it toggles one `x.to(device)` statement between a discarded move (DL004) and
an assignment, and the published diagnostics are checked to reflect it, so a stale or
cached answer cannot pass for a fast one.  Prints the median and the worst of the 20
(targets from issue 17: under 100 ms for 300 lines, under 300 ms for 2,000).

    python benchmarks/lsp_latency.py [--edits 20] [FILE.py ...]

Needs the `server` extra and pytest-lsp (its client): pip install 'devlint[server]'
pytest-lsp.  Extra FILE arguments are measured too (an edit appends the toggled line):
the issue's other file is pytorch/examples' largest, `imagenet/main.py`.  Figures and
where the time goes: benchmarks/README.md, "The language server".
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

from lsprotocol import types as lsp
from pygls.protocol import default_converter
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, LanguageClient, register_lsp_features

BLOCK = """\


class Block{n}(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x):
        pos = torch.arange(x.size(1), device=x.device)
        return self.norm(self.proj(x) + pos[None, :, None])


def train_{n}(model, loader, optimizer, device):
    model.train()
    for inputs, targets in loader:
        inputs = inputs.to(device)
        targets = targets.to(device)
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(inputs), targets)
        loss.backward()
        optimizer.step()
    return loss.item()
"""
HEADER = "import torch\nfrom torch import nn\n"
TOGGLE_BAD = "def poke(x, device):\n    x = torch.zeros(3)\n    x.to(device)  # edit {i}\n"
TOGGLE_GOOD = "def poke(x, device):\n    x = torch.zeros(3)\n    x = x.to(device)  # edit {i}\n"


def module(lines: int) -> str:
    """A plausible training module of about `lines` lines."""
    text, n = HEADER, 0
    room = lines - TOGGLE_BAD.count("\n") - 2
    while text.count("\n") + BLOCK.count("\n") <= room:
        text += BLOCK.format(n=n)
        n += 1
    text += "\n" * (room - text.count("\n"))
    return text + "\n\n"


async def measure(path: Path, text: str, edits: int) -> list[float]:
    client = LanguageClient(converter_factory=default_converter)
    published: dict[int, tuple[float, list[lsp.Diagnostic]]] = {}

    def publish(_: LanguageClient, params: lsp.PublishDiagnosticsParams) -> None:
        if params.version is not None:
            published[params.version] = (time.perf_counter(), list(params.diagnostics))

    register_lsp_features(
        client, {**DEFAULT_CLIENT_FEATURES, lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: publish}
    )
    await client.start_io(sys.executable, "-m", "devlint", "server", cwd=str(path.parent))
    await client.initialize_session(
        lsp.InitializeParams(
            capabilities=lsp.ClientCapabilities(),
            root_uri=path.parent.as_uri(),
            initialization_options={"debounceMs": 0},
        )
    )
    uri = path.as_uri()
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
        )
    )
    await wait(published, 1)
    baseline = sum(d.code == "DL004" for d in published[1][1])
    times = []
    for i in range(edits):
        version = i + 2
        bad = i % 2 == 0
        body = text + (TOGGLE_BAD if bad else TOGGLE_GOOD).format(i=i)
        sent = time.perf_counter()
        client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=body)],
            )
        )
        await wait(published, version)
        at, diagnostics = published[version]
        found = sum(d.code == "DL004" for d in diagnostics)
        if found != baseline + (1 if bad else 0):
            raise SystemExit(f"edit {i}: the diagnostics do not reflect the edit ({found} DL004)")
        times.append(at - sent)
    await client.shutdown_session()
    await client.stop()
    return times


async def wait(published: dict, version: int, timeout: float = 60.0) -> None:
    deadline = time.perf_counter() + timeout
    while version not in published:
        if time.perf_counter() > deadline:
            raise SystemExit(f"no diagnostics for version {version}")
        await asyncio.sleep(0.001)


def main(argv: Optional[list[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        cases = []
        for lines in (300, 2000):
            path = Path(tmp) / f"train_{lines}.py"
            text = module(lines)
            path.write_text(text, encoding="utf-8")
            cases.append((path, text))
        for extra in args.files:
            cases.append((extra.resolve(), extra.read_text(encoding="utf-8")))
        for path, text in cases:
            times = asyncio.run(measure(path, text, args.edits))
            name = path.name if path.parent == Path(tmp) else str(path)
            print(
                f"{name}: {text.count(chr(10)) + 3} lines, didChange -> publishDiagnostics over "
                f"{len(times)} edits: median {statistics.median(times) * 1000:.1f} ms, "
                f"max {max(times) * 1000:.1f} ms"
            )


if __name__ == "__main__":
    main()
