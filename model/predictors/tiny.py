"""Tiny random CLIP models in the Hugging Face hub's cache layout, for offline tests and dry runs of the
published predictors: the same model classes, files and loading code as the real repositories, with a
few thousand parameters (random weights: the answers mean nothing, the code paths are the real ones).

``python -m model.predictors.tiny DIR`` writes ``DIR/hub/models--{org}--{name}/snapshots/<rev>/`` for
``openai/clip-vit-large-patch14`` (GeoCLIP's tower: projection 768, as GeoCLIP's MLP needs),
``geolocal/StreetCLIP`` (a ``pytorch_model.bin`` as the real repo holds) and
``openai/clip-vit-large-patch14-336``, each with its image-processor config and a tokenizer
(``vocab.json`` + ``merges.txt``: the 256 byte symbols, each also word-final, then
``<|startoftext|>`` = 512 and ``<|endoftext|>`` = 513, the highest id as in OpenAI's vocabulary).
Then ``HF_HOME=DIR HF_HUB_OFFLINE=1 python -m model.predict --model geoclip IMG`` runs offline.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

REVISION = "0" * 40
VISION = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, image_size=32,
              patch_size=8)
TEXT = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, vocab_size=514,
            max_position_embeddings=77, bos_token_id=512, eos_token_id=513, pad_token_id=513)
REPOS = {  # repo -> (projection_dim, weights file)
    "openai/clip-vit-large-patch14": (768, "model.safetensors"),
    "geolocal/StreetCLIP": (16, "pytorch_model.bin"),
    "openai/clip-vit-large-patch14-336": (16, "model.safetensors"),
}


def snapshot_dir(hub: Path, repo: str) -> Path:
    """A repo's snapshot folder in hub cache ``hub``, laid out as ``huggingface_hub`` writes it."""
    base = Path(hub) / ("models--" + repo.replace("/", "--"))
    snap = base / "snapshots" / REVISION
    snap.mkdir(parents=True, exist_ok=True)
    (base / "refs").mkdir(exist_ok=True)
    (base / "refs" / "main").write_text(REVISION)
    return snap


def byte_vocab() -> dict[str, int]:
    """The smallest CLIP byte-level BPE vocabulary that encodes any text (no merges): 514 ids."""
    from tokenizers.pre_tokenizers import ByteLevel

    chars = sorted(ByteLevel.alphabet())
    v = {c: i for i, c in enumerate(chars)}
    v.update({c + "</w>": 256 + i for i, c in enumerate(chars)})
    v["<|startoftext|>"], v["<|endoftext|>"] = 512, 513
    return v


def write_tiny_clip(hub: Path, repo: str, projection_dim: int = 16, weights: str = "model.safetensors",
                    seed: int = 0, tokenizer: bool = True, vision: dict | None = None):
    """Write a tiny random ``CLIPModel`` as ``repo`` into hub cache ``hub``; returns the model (eval).
    ``tokenizer=False`` leaves the tokenizer files out (a partial download)."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    snap = snapshot_dir(hub, repo)
    torch.manual_seed(seed)
    v = dict(VISION, **(vision or {}))
    cfg = CLIPConfig(text_config=TEXT, vision_config=dict(v, projection_dim=projection_dim),
                     projection_dim=projection_dim)
    model = CLIPModel(cfg).eval()
    if weights == "pytorch_model.bin":
        cfg.save_pretrained(snap)
        torch.save(model.state_dict(), snap / "pytorch_model.bin")
    else:
        model.save_pretrained(snap)
    if tokenizer:
        (snap / "vocab.json").write_text(json.dumps(byte_vocab()))
        (snap / "merges.txt").write_text("#version: 0.2\n")
        (snap / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 77}))
    s = int(v["image_size"])
    CLIPImageProcessor(size={"shortest_edge": s + s // 4}, crop_size={"height": s, "width": s},
                       resample=3).save_pretrained(snap)
    return model


def write_tiny_hub(home: Path, repos: dict | None = None) -> Path:
    """Every repo of :data:`REPOS` (or ``repos``) under ``home/hub``; returns the hub folder."""
    hub = Path(home) / "hub"
    for i, (repo, (proj, weights)) in enumerate((repos or REPOS).items()):
        write_tiny_clip(hub, repo, proj, weights, seed=i)
    return hub


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model.predictors.tiny", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("home", help="folder to use as HF_HOME (its hub/ is written)")
    args = ap.parse_args(argv)
    hub = write_tiny_hub(Path(args.home))
    print(f"wrote tiny random CLIP repos {', '.join(REPOS)} into {hub}; use HF_HOME={args.home}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
