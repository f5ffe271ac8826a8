"""`devlint server` end to end: the real server in a subprocess, driven by an LSP client.

Each test starts `python -m devlint server` (or tests/lsp_fault_server.py, which injects
faults) in a fresh project directory and speaks LSP to it with pytest-lsp's client; what
the editor sees is compared with what the command line prints for the same file
(`--output-format json`, `--fix`, `devlint rule`).  pytest-lsp needs Python 3.10+: the
module skips where it or pygls cannot be imported.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("pygls")
pytest_lsp = pytest.importorskip("pytest_lsp")

from lsprotocol import types as lsp  # noqa: E402

from tests.lsp_client import (  # noqa: E402
    HERE,
    TIMEOUT,
    apply,
    as_tuple,
    cli,
    cli_fix,
    cli_json,
    edits_of,
    expected_range,
    serve,
)

pytestmark = pytest.mark.asyncio

FAULT_SERVER = HERE / "lsp_fault_server.py"

# DL004 (safe fix) after two non-BMP characters on line 10, DL002 (unsafe fix) on line 14.
SOURCE = """\
import torch


def f(x, device):
    x.to(device)
    return x * 2


def g(device):
    s = "\U0001f600\U0001f600"; y = torch.ones(3); y.to(device)
    return s, y


model = torch.nn.Linear(2, 2).cuda()
"""
BROKEN = "import torch\n\nx = )\n"

FIXTURES = HERE.parent / "fixtures" / "buggy"


async def test_diagnostics_equal_the_command_line_json(tmp_path: Path) -> None:
    names = [
        "dl003_dict_batch_partial_move.py",
        "dl004_tensor_param_discarded.py",
        "dl005_arange_in_forward.py",
        "dl002_unguarded_cuda_calls.py",
    ]
    async with serve(tmp_path) as client:
        for name in [*names, "mixed.py"]:
            text = SOURCE if name == "mixed.py" else (FIXTURES / name).read_text("utf-8")
            uri = client.open(name, text)
            got = await client.diagnostics(uri)
            records = cli_json(tmp_path, name)
            assert records, name
            assert [d.code for d in got] == [r["code"] for r in records]
            assert [as_tuple(d.range) for d in got] == [expected_range(text, r) for r in records]
            assert [d.code_description.href for d in got if d.code_description] == [
                r["url"] for r in records
            ]
            assert [d.message for d in got] == [r["message"] for r in records]
            assert all(d.severity == lsp.DiagnosticSeverity.Error for d in got)
            assert all(d.source == "devlint" for d in got)


async def test_non_bmp_characters_before_a_finding_count_twice_in_utf16(tmp_path: Path) -> None:
    async with serve(tmp_path) as client:
        uri = client.open("a.py", SOURCE)
        (dl004,) = [d for d in await client.diagnostics(uri) if d.code == "DL004"]
        line = SOURCE.split("\n")[9]
        col = line.index("y.to(device)")
        assert as_tuple(dl004.range) == (9, col + 2, 9, col + 2 + len("y.to(device)"))


async def test_utf32_when_the_client_negotiates_it(tmp_path: Path) -> None:
    caps = lsp.ClientCapabilities(
        general=lsp.GeneralClientCapabilities(position_encodings=[lsp.PositionEncodingKind.Utf32])
    )
    async with serve(tmp_path, capabilities=caps) as client:
        uri = client.open("a.py", SOURCE)
        (dl004,) = [d for d in await client.diagnostics(uri) if d.code == "DL004"]
        col = SOURCE.split("\n")[9].index("y.to(device)")
        assert dl004.range.start.character == col


async def test_edits_update_the_diagnostics_and_stale_versions_are_not_published(
    tmp_path: Path,
) -> None:
    async with serve(tmp_path) as client:
        uri = client.open("a.py", SOURCE)
        assert {d.code for d in await client.diagnostics(uri)} == {"DL002", "DL004"}
        fixed = SOURCE.replace("; y.to(device)", "; y = y.to(device)")
        seen = len(client.published)
        client.replace_all(uri, SOURCE + "\n# typing...\n")  # version 2, left at once
        version = client.replace_all(uri, fixed)
        assert [d.code for d in await client.diagnostics(uri, version, seen)] == ["DL002"]
        assert all(p.version != 2 for p in client.published[seen:])
        # a save checks at once
        client.lsp.text_document_did_save(
            lsp.DidSaveTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
        )
        seen = len(client.published)
        assert [d.code for d in await client.diagnostics(uri, version, seen)] == ["DL002"]


async def test_pull_diagnostics(tmp_path: Path) -> None:
    caps = lsp.ClientCapabilities(
        text_document=lsp.TextDocumentClientCapabilities(
            diagnostic=lsp.DiagnosticClientCapabilities()
        )
    )
    async with serve(tmp_path, capabilities=caps) as client:
        uri = client.open("a.py", SOURCE)
        params = lsp.DocumentDiagnosticParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
        report = await client.lsp.text_document_diagnostic_async(params)
        assert isinstance(report, lsp.RelatedFullDocumentDiagnosticReport)
        assert [d.code for d in report.items] == [r["code"] for r in cli_json(tmp_path, "a.py")]
        params.previous_result_id = report.result_id
        again = await client.lsp.text_document_diagnostic_async(params)
        assert isinstance(again, lsp.RelatedUnchangedDocumentDiagnosticReport)
        client.replace_all(uri, "import torch\n")
        params.previous_result_id = report.result_id
        after = await client.lsp.text_document_diagnostic_async(params)
        assert isinstance(after, lsp.RelatedFullDocumentDiagnosticReport)
        assert list(after.items) == []
        # a client that pulls is not also pushed the same diagnostics
        assert client.published == []


async def test_code_actions_apply_what_fix_writes(tmp_path: Path) -> None:
    async with serve(tmp_path) as client:
        uri = client.open("a.py", SOURCE)
        found = {d.code: d for d in await client.diagnostics(uri)}

        actions = await client.actions(uri, found["DL004"].range, only=["quickfix"])
        (fix,) = [a for a in actions if "suppress" not in a.title]
        assert fix.is_preferred is True
        after = apply(SOURCE, edits_of(fix, uri))
        assert after == cli_fix(tmp_path, SOURCE)  # the one safe fix is what --fix writes

        actions = await client.actions(uri, found["DL002"].range, only=["quickfix"])
        (unsafe,) = [a for a in actions if "suppress" not in a.title]
        assert not unsafe.is_preferred and "unsafe" in unsafe.title
        only_unsafe = apply(SOURCE, edits_of(unsafe, uri))
        both = cli_fix(tmp_path, SOURCE, "--unsafe-fixes")
        assert apply(only_unsafe, edits_of(fix, uri)) == both

        (suppress,) = [a for a in actions if "suppress DL002" in a.title]
        silenced = apply(SOURCE, edits_of(suppress, uri))
        assert "model = torch.nn.Linear(2, 2).cuda()  # noqa: DL002\n" in silenced
        seen = len(client.published)
        version = client.replace_all(uri, silenced)
        assert [d.code for d in await client.diagnostics(uri, version, seen)] == ["DL004"]


async def test_fix_all_is_safe_unless_unsafe_fixes_is_on(tmp_path: Path) -> None:
    async with serve(tmp_path) as client:
        uri = client.open("a.py", SOURCE)
        await client.diagnostics(uri)
        whole = lsp.Range(
            start=lsp.Position(line=0, character=0), end=lsp.Position(line=0, character=0)
        )
        (action,) = await client.actions(uri, whole, only=["source.fixAll"])
        assert action.kind == "source.fixAll.devlint"
        assert apply(SOURCE, edits_of(action, uri)) == cli_fix(tmp_path, SOURCE)

        client.configure({"devlint": {"unsafeFixes": True}})
        await client.diagnostics(uri, 1, len(client.published))  # settings applied
        (action,) = await client.actions(uri, whole, only=["source.fixAll.devlint"])
        assert apply(SOURCE, edits_of(action, uri)) == cli_fix(tmp_path, SOURCE, "--unsafe-fixes")
        assert await client.actions(uri, whole, only=["source.organizeImports"]) == []


async def test_hover_shows_the_rule_explanation(tmp_path: Path) -> None:
    async with serve(tmp_path) as client:
        uri = client.open("a.py", SOURCE)
        found = {d.code: d for d in await client.diagnostics(uri)}
        hover = await client.lsp.text_document_hover_async(
            lsp.HoverParams(
                text_document=lsp.TextDocumentIdentifier(uri=uri),
                position=found["DL002"].range.start,
            )
        )
        assert hover is not None and isinstance(hover.contents, lsp.MarkupContent)
        assert cli(tmp_path, "rule", "DL002").stdout in hover.contents.value
        assert found["DL002"].message in hover.contents.value
        nothing = await client.lsp.text_document_hover_async(
            lsp.HoverParams(
                text_document=lsp.TextDocumentIdentifier(uri=uri),
                position=lsp.Position(line=0, character=0),
            )
        )
        assert nothing is None


async def test_a_file_that_does_not_parse_gets_dl000(tmp_path: Path) -> None:
    async with serve(tmp_path) as client:
        uri = client.open("broken.py", BROKEN)
        (diag,) = await client.diagnostics(uri)
        (record,) = cli_json(tmp_path, "broken.py")
        assert diag.code == "DL000" == record["code"]
        assert as_tuple(diag.range) == expected_range(BROKEN, record)
        actions = await client.actions(uri, diag.range)
        assert not any("suppress" in a.title for a in actions)


async def test_settings_from_initialization_and_configuration_changes(tmp_path: Path) -> None:
    async with serve(tmp_path, options={"ignore": ["DL002"]}) as client:
        uri = client.open("a.py", SOURCE)
        assert [d.code for d in await client.diagnostics(uri)] == ["DL004"]
        seen = len(client.published)
        client.configure({"devlint": {"ignore": [], "select": ["DL002"]}})
        assert [d.code for d in await client.diagnostics(uri, 1, seen)] == ["DL002"]
        # a configuration file named in the settings
        (tmp_path / "strict.toml").write_text('ignore = ["DL002", "DL004"]\n', encoding="utf-8")
        seen = len(client.published)
        client.configure({"select": [], "configuration": "strict.toml"})
        assert await client.diagnostics(uri, 1, seen) == []


async def test_an_edited_pyproject_rechecks_open_files(tmp_path: Path) -> None:
    async with serve(tmp_path) as client:
        uri = client.open("a.py", SOURCE)
        assert {d.code for d in await client.diagnostics(uri)} == {"DL002", "DL004"}
        pyproject = tmp_path / "pyproject.toml"
        pyproject.write_text('[tool.devlint]\nignore = ["DL004"]\n', encoding="utf-8")
        seen = len(client.published)
        client.lsp.workspace_did_change_watched_files(
            lsp.DidChangeWatchedFilesParams(
                changes=[lsp.FileEvent(uri=pyproject.as_uri(), type=lsp.FileChangeType.Created)]
            )
        )
        assert [d.code for d in await client.diagnostics(uri, 1, seen)] == ["DL002"]
        assert [r["code"] for r in cli_json(tmp_path, "a.py")] == ["DL002"]


async def test_an_internal_error_is_logged_and_the_server_keeps_serving(tmp_path: Path) -> None:
    command = [sys.executable, str(FAULT_SERVER)]
    async with serve(tmp_path, command=command) as client:
        for marker in ("CHECKER_FAULT", "SERVER_FAULT"):
            uri = client.open(f"{marker.lower()}.py", f"# {marker}\n{SOURCE}", write=False)
            deadline = time.monotonic() + TIMEOUT
            while not any(
                marker.split("_")[0].lower() in m.message and "internal error" in m.message
                for m in client.lsp.log_messages
            ):
                assert time.monotonic() < deadline, "the fault was not logged"
                await asyncio.sleep(0.02)
            assert all(m.type == lsp.MessageType.Error for m in client.lsp.log_messages)
            # still serving: another file is checked, hover and code actions answer
            other = client.open(f"after_{marker.lower()}.py", SOURCE)
            assert {d.code for d in await client.diagnostics(other)} == {"DL002", "DL004"}
            await client.actions(
                uri,
                lsp.Range(
                    start=lsp.Position(line=0, character=0), end=lsp.Position(line=0, character=0)
                ),
            )


async def test_a_broken_configuration_file_is_logged_and_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.devlint\n", encoding="utf-8")
    async with serve(tmp_path) as client:
        uri = client.open("a.py", SOURCE)
        assert await client.diagnostics(uri) == []
        (message,) = [m.message for m in client.lsp.log_messages]
        assert "configuration error" in message and "internal error" not in message
        pyproject = tmp_path / "pyproject.toml"
        pyproject.write_text('[tool.devlint]\nignore = ["DL002"]\n', encoding="utf-8")
        seen = len(client.published)
        client.lsp.workspace_did_change_watched_files(
            lsp.DidChangeWatchedFilesParams(
                changes=[lsp.FileEvent(uri=pyproject.as_uri(), type=lsp.FileChangeType.Changed)]
            )
        )
        assert [d.code for d in await client.diagnostics(uri, 1, seen)] == ["DL004"]


async def test_a_saved_module_updates_the_open_files_that_import_it(tmp_path: Path) -> None:
    """Project-wide facts in the editor: `finetune.py` builds a model with a function of
    another module; once that module (saved) returns the model on the device, the open
    script's finding goes, without the script being edited."""
    import shutil

    project = HERE.parent / "fixtures" / "projects" / "trainer"
    for path in project.rglob("*"):
        if path.is_file():
            target = tmp_path / path.relative_to(project)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    async with serve(tmp_path) as client:
        script = client.open("finetune.py", (tmp_path / "finetune.py").read_text("utf-8"))
        assert [d.range.start.line + 1 for d in await client.diagnostics(script)] == [16, 18, 22, 25]
        models = tmp_path / "visionkit" / "models.py"
        text = models.read_text("utf-8")
        text = text.replace("import torch\n", "import torch\n\nfrom .config import ACCEL\n", 1)
        text = text.replace("return ConvNet(classes)", "return ConvNet(classes).to(ACCEL)")
        uri = client.open("visionkit/models.py", text)
        seen = len(client.published)
        client.lsp.text_document_did_save(
            lsp.DidSaveTextDocumentParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
        )
        after = await client.diagnostics(script, None, seen)
        assert [d.range.start.line + 1 for d in after] == [16, 25]
        assert [r["location"]["row"] for r in cli_json(tmp_path, "finetune.py")] == [16, 25]
