"""Models that place themselves: sentence-transformers puts `SentenceTransformer`,
`CrossEncoder` and `SparseEncoder` on the GPU when there is one, unless `device=` says
otherwise.  Their `encode(..., convert_to_tensor=True)` tensors are where the model is,
and so are the `util` scores computed from them; the default output (a NumPy array) and
`CrossEncoder.predict` are on the host."""

from __future__ import annotations

import textwrap

from devlint.checker import check_source
from devlint.rules import ALL_RULES


def _found(body: str) -> list[tuple[str, int]]:
    source = "import numpy as np\nimport torch\nfrom sentence_transformers import util\n"
    source += "from sentence_transformers import SentenceTransformer, CrossEncoder\n"
    source += textwrap.dedent(body)
    return [(f.code, f.line) for f in check_source(source, "search.py", ALL_RULES)]


def test_tensors_of_a_model_built_without_a_device_are_on_its_gpu() -> None:
    assert _found(
        """
        model = SentenceTransformer("all-MiniLM-L6-v2")
        emb = model.encode(["a", "b"], convert_to_tensor=True)
        emb.numpy()
        util.cos_sim(emb, emb).numpy()
        np.argsort(-util.dot_score(emb, emb)[0])
        """
    ) == [("DL007", 8), ("DL007", 9), ("DL007", 10)]


def test_what_encode_returns_by_default_is_numpy_on_the_host() -> None:
    assert (
        _found(
            """
        model = SentenceTransformer("all-MiniLM-L6-v2")
        emb = model.encode(["a", "b"])
        np.dot(emb, emb.T)
        pairs = model.encode(["a"], convert_to_tensor=False)
        np.mean(pairs)
        scores = CrossEncoder("ms-marco").predict([("q", "a")])
        np.argsort(-scores)
        """
        )
        == []
    )


def test_a_device_argument_decides_where_the_model_is() -> None:
    assert (
        _found(
            """
        cpu = SentenceTransformer("all-MiniLM-L6-v2", device="cpu")
        util.cos_sim(cpu.encode(["a"], convert_to_tensor=True), torch.ones(1, 384)).numpy()
        """
        )
        == []
    )
    assert _found(
        """
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        model = SentenceTransformer("all-MiniLM-L6-v2", device=device)
        emb = model.encode(["a"], convert_to_tensor=True)
        emb.numpy()
        emb.cpu().numpy()
        """
    ) == [("DL007", 9)]


def test_a_cpu_tensor_meeting_its_embeddings_is_a_mismatch() -> None:
    assert _found(
        """
        model = SentenceTransformer("all-MiniLM-L6-v2")
        emb = model.encode(["a", "b"], convert_to_tensor=True)
        weights = torch.tensor([0.25, 0.75])
        mixed = weights @ emb
        """
    ) == [("DL005", 8)]


def test_the_message_says_who_placed_it() -> None:
    source = (
        "from sentence_transformers import SentenceTransformer\n"
        "emb = SentenceTransformer('m').encode(['a'], convert_to_tensor=True)\n"
        "emb.numpy()\n"
    )
    (found,) = check_source(source, "search.py", ALL_RULES)
    assert "the GPU sentence-transformers puts its models on" in found.message
