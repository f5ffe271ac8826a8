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


def test_clip_and_whisper_models_are_on_their_gpu_and_their_inputs_are_not() -> None:
    source = textwrap.dedent(
        """\
        import clip
        import torch
        import whisper
        from PIL import Image

        model, preprocess = clip.load("ViT-B/32")
        image = preprocess(Image.open("cat.png")).unsqueeze(0)
        features = model.encode_image(image)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        fine = model.encode_text(clip.tokenize(["a cat"]).to(device))
        on_cpu, prep = clip.load("ViT-B/32", device="cpu")
        also_fine = on_cpu.encode_image(prep(Image.open("cat.png")).unsqueeze(0))

        asr = whisper.load_model("base")
        mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(whisper.load_audio("a.mp3")))
        lang = asr.detect_language(mel)
        text = asr.transcribe("a.mp3")["text"]
        moved = whisper.decode(asr, mel.to(asr.device), whisper.DecodingOptions())
        """
    )
    found = check_source(source, "media.py", ALL_RULES)
    assert [(f.code, f.line) for f in found] == [("DL001", 8), ("DL001", 16)]
    assert "the GPU CLIP puts its models on" in found[0].message
    assert "the GPU Whisper puts its models on" in found[1].message


def test_whisper_decode_reads_the_spectrogram_where_the_model_is() -> None:
    source = (
        "import whisper\n"
        "model = whisper.load_model('base', device='cuda:1')\n"
        "mel = whisper.log_mel_spectrogram('a.mp3')\n"
        "result = whisper.decode(model, mel, whisper.DecodingOptions())\n"
    )
    assert [(f.code, f.line) for f in check_source(source, "asr.py", ALL_RULES)] == [
        ("DL002", 2),
        ("DL001", 4),
    ]


DATASET = """\
import torch
import torch.nn as nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Pairs(torch.utils.data.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, index):
        x = torch.randn(4){move}
        return x, index


model = nn.Linear(4, 2).to(device)
for x, _ in torch.utils.data.DataLoader(Pairs(), batch_size=2):
    out = model(x)
"""


def test_a_dataset_that_moves_its_items_yields_batches_that_may_be_placed() -> None:
    """A same-file dataset whose `__getitem__` moves or makes its items on a device
    (Whisper's LibriSpeech notebook: `pad_or_trim(audio).to(self.device)`): its batches
    are not CPU batches."""
    for move in (".to(device)", ".cuda()"):
        found = check_source(DATASET.replace("{move}", move), "train.py", ALL_RULES)
        assert [f.code for f in found if f.code != "DL002"] == []
    found = check_source(DATASET.replace("{move}", ""), "train.py", ALL_RULES)
    assert [(f.code, f.line) for f in found] == [("DL003", 18)]


def test_ultralytics_results_hold_tensors_on_the_models_device() -> None:
    source = textwrap.dedent(
        """\
        import numpy as np
        from ultralytics import YOLO

        model = YOLO("yolov8n.pt")
        for r in model("bus.jpg"):
            r.boxes.xyxy.numpy()
            r.boxes.conf.cpu().numpy()
            r.boxes.numpy().xyxy
            np.array(r.boxes.cls)
        model.predict("bus.jpg", device="cpu")[0].boxes.xyxy.numpy()
        model.track("clip.mp4")[0].masks.data.numpy()
        model(torch_input := None)
        """
    )
    found = check_source(source, "detect.py", ALL_RULES)
    assert [(f.code, f.line) for f in found] == [("DL007", 6), ("DL007", 9), ("DL007", 11)]
    assert "the GPU Ultralytics puts its models on" in found[0].message


def test_yolov5_from_torch_hub_runs_on_its_gpu() -> None:
    source = textwrap.dedent(
        """\
        import torch

        model = torch.hub.load("ultralytics/yolov5:v7.0", "yolov5s")
        results = model(["bus.jpg"])
        results.xyxy[0].numpy()
        results.xyxy[0].cpu().numpy()
        results.pandas().xyxy[0].to_numpy()
        torch.hub.load("ultralytics/yolov5", "yolov5s", device="cpu")(["a.jpg"]).pred[0].numpy()
        torch.hub.load("./yolov5", "custom", source="local")(["a.jpg"]).xyxy[0].numpy()
        torch.hub.load("pytorch/vision", "resnet18")
        """
    )
    found = check_source(source, "detect.py", ALL_RULES)
    assert [(f.code, f.line) for f in found] == [("DL007", 5)]
    assert "the GPU YOLOv5 puts its models on" in found[0].message
