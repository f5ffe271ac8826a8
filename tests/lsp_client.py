"""The LSP client side of the `devlint server` tests (tests/test_server*.py).

`serve` starts the real server (`python -m devlint server`, or a launcher given as
`command`) in a subprocess for a project directory and drives it with pytest-lsp's
client; `Client` keeps every `publishDiagnostics` it receives.  The other helpers run
the command line on the same files and apply LSP text edits, so a test can compare what
the editor sees with what `devlint` prints.  Only imported where pytest-lsp and pygls
are installed (the test modules skip first).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, AsyncIterator, Optional

from lsprotocol import types as lsp
from pygls.protocol import default_converter
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, LanguageClient, register_lsp_features

HERE = Path(__file__).resolve().parent
TIMEOUT = 30.0


class Client:
    """An LSP client plus every `publishDiagnostics` it received, in order."""

    def __init__(self, client: LanguageClient, root: Path) -> None:
        self.lsp = client
        self.root = root
        self.published: list[lsp.PublishDiagnosticsParams] = []
        self.versions: dict[str, int] = {}
        self.capabilities: Optional[lsp.ServerCapabilities] = None

    def uri(self, name: str) -> str:
        return (self.root / name).as_uri()

    def open(self, name: str, text: str, write: bool = True) -> str:
        """Open `name` with `text` (written to disk too, so the CLI can check it)."""
        if write:
            (self.root / name).write_text(text, encoding="utf-8")
        uri = self.uri(name)
        self.versions[uri] = 1
        self.lsp.text_document_did_open(
            lsp.DidOpenTextDocumentParams(
                text_document=lsp.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=text
                )
            )
        )
        return uri

    def replace_all(self, uri: str, text: str) -> int:
        """Send the whole new text as one change; returns the new version."""
        self.versions[uri] += 1
        self.lsp.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(
                    uri=uri, version=self.versions[uri]
                ),
                content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )
        return self.versions[uri]

    async def diagnostics(
        self, uri: str, version: Optional[int] = 1, after: int = 0
    ) -> list[lsp.Diagnostic]:
        """The first diagnostics published for `uri` (at `version`) after the
        `after`-th publication."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            for params in self.published[after:]:
                if params.uri == uri and (version is None or params.version == version):
                    return list(params.diagnostics)
            await asyncio.sleep(0.01)
        raise AssertionError(f"no diagnostics for {uri} version {version}")

    async def actions(
        self, uri: str, rng: lsp.Range, only: Optional[list[str]] = None
    ) -> list[lsp.CodeAction]:
        result = await self.lsp.text_document_code_action_async(
            lsp.CodeActionParams(
                text_document=lsp.TextDocumentIdentifier(uri=uri),
                range=rng,
                context=lsp.CodeActionContext(diagnostics=[], only=only),
            )
        )
        return [a for a in result or [] if isinstance(a, lsp.CodeAction)]

    def configure(self, settings: Any) -> None:
        self.lsp.workspace_did_change_configuration(
            lsp.DidChangeConfigurationParams(settings=settings)
        )


@contextlib.asynccontextmanager
async def serve(
    root: Path,
    *,
    options: Any = None,
    capabilities: Optional[lsp.ClientCapabilities] = None,
    command: Optional[list[str]] = None,
) -> AsyncIterator[Client]:
    """A running server for a project in `root`, initialized, shut down on exit."""
    client = LanguageClient(converter_factory=default_converter)
    wrapper = Client(client, root)

    def publish(_: LanguageClient, params: lsp.PublishDiagnosticsParams) -> None:
        wrapper.published.append(params)

    register_lsp_features(
        client, {**DEFAULT_CLIENT_FEATURES, lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: publish}
    )
    argv = command or [sys.executable, "-m", "devlint", "server"]
    await client.start_io(*argv, cwd=str(root))
    try:
        result = await asyncio.wait_for(
            client.initialize_session(
                lsp.InitializeParams(
                    capabilities=capabilities or lsp.ClientCapabilities(),
                    root_uri=root.as_uri(),
                    workspace_folders=[lsp.WorkspaceFolder(uri=root.as_uri(), name="project")],
                    initialization_options={"debounceMs": 20, **(options or {})},
                )
            ),
            TIMEOUT,
        )
        wrapper.capabilities = result.capabilities
        yield wrapper
        await asyncio.wait_for(client.shutdown_session(), TIMEOUT)
    finally:
        process = getattr(client, "_server", None)
        if process is not None and process.returncode is None:
            process.kill()  # a failed test: the server was not told to exit
        await client.stop()


def cli(root: Path, *args: str, stdin: Optional[str] = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devlint", *args],
        cwd=root,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )


def cli_json(root: Path, name: str) -> list[dict[str, Any]]:
    return json.loads(cli(root, "--output-format", "json", "--no-cache", name).stdout)


def cli_fix(root: Path, text: str, *flags: str) -> str:
    done = cli(
        root, "--fix", "--no-cache", *flags, "--stdin-filename", "buffer.py", "-", stdin=text
    )
    return done.stdout


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def expected_range(text: str, record: dict[str, Any]) -> tuple[int, int, int, int]:
    """The LSP range (UTF-16) of a CLI JSON record in `text`."""
    lines = text.split("\n")
    start, end = record["location"], record["end_location"]
    return (
        start["row"] - 1,
        utf16(lines[start["row"] - 1][: start["column"] - 1]),
        end["row"] - 1,
        utf16(lines[end["row"] - 1][: end["column"] - 1]),
    )


def as_tuple(rng: lsp.Range) -> tuple[int, int, int, int]:
    return (rng.start.line, rng.start.character, rng.end.line, rng.end.character)


def apply(text: str, edits: list[lsp.TextEdit], units: Any = utf16) -> str:
    """Apply LSP text edits (ranges in UTF-16 units) to `text`, last first."""
    lines = text.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)

    def offset(pos: lsp.Position) -> int:
        if pos.line >= len(lines):
            return len(text)
        line, count = lines[pos.line], 0
        for i, ch in enumerate(line):
            if count >= pos.character:
                return starts[pos.line] + i
            count += units(ch)
        return starts[pos.line] + len(line)

    spans = sorted((offset(e.range.start), offset(e.range.end), e.new_text) for e in edits)
    for start, end, new in reversed(spans):
        text = text[:start] + new + text[end:]
    return text


def edits_of(action: lsp.CodeAction, uri: str) -> list[lsp.TextEdit]:
    assert action.edit is not None and action.edit.changes is not None
    return list(action.edit.changes[uri])
