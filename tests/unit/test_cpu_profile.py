"""CPU-feature detection from /proc/cpuinfo text, and the serving profile and
vLLM command chosen for each CPU class (no vLLM started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatbot.errors import ConfigurationError
from chatbot.llm.cpu import LLAMA_CPP_STARTUP_S, choose_profile, detect, parse_cpuinfo
from chatbot.llm.server import EmbeddedServer
from chatbot.settings import EmbeddedLLMSettings

BASE = "fpu vme de pse tsc msr pae sse sse2 ssse3 sse4_1 sse4_2 popcnt avx fma f16c"
FLAGS = {
    # Sapphire Rapids: what this project's AMX machines report
    "amx": f"{BASE} avx2 avx512f avx512bw avx512vl avx512_bf16 avx512_vnni amx_bf16 amx_tile "
    "amx_int8",
    # Zen 4: AVX-512 with bf16 dot products, no AMX
    "avx512_bf16": f"{BASE} avx2 avx512f avx512bw avx512vl avx512_bf16 avx512_vnni",
    # Skylake-SP / Cascade Lake
    "avx512": f"{BASE} avx2 avx512f avx512bw avx512vl avx512_vnni",
    # Zen 3 EPYC: the machine of the issue
    "avx2": f"{BASE} avx2 bmi2 sha_ni",
    "baseline": BASE,
}


def cpuinfo(model: str, flags: str, cores: int = 2) -> str:
    entry = (
        "processor\t: {n}\nvendor_id\t: AuthenticAMD\nmodel name\t: {model}\nflags\t\t: {flags}\n"
    )
    return "\n".join(entry.format(n=n, model=model, flags=flags) for n in range(cores))


@pytest.mark.parametrize("expected", list(FLAGS))
def test_each_cpu_class_is_recognised_from_its_flags(expected: str) -> None:
    features = parse_cpuinfo(cpuinfo("Some CPU", FLAGS[expected], cores=4))
    assert features.cpu_class == expected
    assert features.cores == 4
    assert features.model_name == "Some CPU"


def test_amx_without_its_tile_flag_is_not_taken_for_amx() -> None:
    flags = FLAGS["avx512_bf16"] + " amx_bf16"  # amx_tile missing: the OS has not enabled it
    assert parse_cpuinfo(cpuinfo("x", flags)).cpu_class == "avx512_bf16"


def test_unreadable_or_empty_cpuinfo_is_the_safest_class(tmp_path: Path) -> None:
    assert parse_cpuinfo("").cpu_class == "baseline"
    assert detect(tmp_path / "missing").cpu_class == "baseline"
    assert detect("garbage without colons").cores == 1


def test_a_cpuinfo_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo("AMD EPYC 7B13", FLAGS["avx2"]), encoding="utf-8")
    features = detect(path)
    assert features.cpu_class == "avx2"
    assert "AMD EPYC 7B13" in features.describe() and "avx2" in features.describe()


def test_bf16_only_where_the_cpu_has_bf16_instructions() -> None:
    dtypes = {
        name: choose_profile(parse_cpuinfo(cpuinfo("x", flags))).dtype
        for name, flags in FLAGS.items()
    }
    assert dtypes == {
        "amx": "bfloat16",
        "avx512_bf16": "bfloat16",
        "avx512": "float32",
        "avx2": "float32",
        "baseline": "float32",
    }


def test_only_amx_pays_for_compilation() -> None:
    eager = {
        name: choose_profile(parse_cpuinfo(cpuinfo("x", flags))).enforce_eager
        for name, flags in FLAGS.items()
    }
    assert eager == {name: name != "amx" for name in FLAGS}


def test_llama_cpp_where_the_cpu_has_no_bf16_hardware() -> None:
    engines = {
        name: choose_profile(parse_cpuinfo(cpuinfo("x", flags))).engine
        for name, flags in FLAGS.items()
    }
    assert engines == {
        "amx": "vllm",
        "avx512_bf16": "vllm",
        "avx512": "llama.cpp",
        "avx2": "llama.cpp",
        "baseline": "llama.cpp",
    }


def server_on(detected: str, tmp_path: Path, **settings: object) -> EmbeddedServer:
    cfg = EmbeddedLLMSettings(
        cache_dir=tmp_path / "models", log_file=tmp_path / "vllm.log", **settings
    )
    return EmbeddedServer(cfg, cpu=parse_cpuinfo(cpuinfo("x", FLAGS[detected])))


def test_an_avx2_cpu_serves_the_gguf_on_llama_cpp(tmp_path: Path) -> None:
    server = server_on("avx2", tmp_path)
    gguf = tmp_path / "model.gguf"
    command = server.command(gguf)
    assert server.engine == "llama.cpp" and "llama.cpp" in server.describe()
    assert command[1:3] == ["-m", "chatbot.llm.llama_server"]
    assert command[command.index("--model") + 1] == str(gguf)
    assert command[command.index("--n-ctx") + 1] == "4096"
    assert command[command.index("--alias") + 1] == "boundary-local"
    assert server.startup_timeout_s == LLAMA_CPP_STARTUP_S and server.places == 1


def test_llama_cpp_cannot_serve_a_hugging_face_folder(tmp_path: Path) -> None:
    server = server_on("avx2", tmp_path, model_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="CHATBOT_EMBEDDED__ENGINE=vllm"):
        server.model_dir()


def test_a_gguf_file_of_ones_own_is_served_by_llama_cpp_on_any_cpu(tmp_path: Path) -> None:
    own = tmp_path / "bank-model.Q4_K_M.gguf"
    own.write_bytes(b"GGUF")
    for detected in ("amx", "avx2"):
        server = server_on(detected, tmp_path, model_dir=own)
        assert server.engine == "llama.cpp"
        assert server.model_dir() == own  # as it is: no packaged checksum applies
        assert "MODEL_DIR is a GGUF file" in server.describe()
    missing = server_on("avx2", tmp_path, model_dir=tmp_path / "gone.gguf")
    with pytest.raises(ConfigurationError, match="no such GGUF file"):
        missing.model_dir()


def test_vllm_forced_on_a_gguf_file_says_what_to_do(tmp_path: Path) -> None:
    own = tmp_path / "bank-model.gguf"
    own.write_bytes(b"GGUF")
    server = server_on("amx", tmp_path, model_dir=own, engine="vllm")
    with pytest.raises(ConfigurationError, match=r"CHATBOT_EMBEDDED__ENGINE=llama\.cpp"):
        server.model_dir()


def test_the_vllm_command_follows_the_profile_of_an_avx2_cpu_when_forced(
    tmp_path: Path,
) -> None:
    server = server_on("avx2", tmp_path, engine="vllm")
    command = server.command(tmp_path / "model")
    assert command[command.index("--dtype") + 1] == "float32"
    assert "--enforce-eager" in command
    assert command[command.index("--max-num-seqs") + 1] == "4"
    assert server.startup_timeout_s == choose_profile(server.cpu).startup_budget_s  # type: ignore[arg-type]


def test_the_vllm_command_follows_the_profile_of_an_amx_cpu(tmp_path: Path) -> None:
    command = server_on("amx", tmp_path).command(tmp_path / "model")
    assert command[command.index("--dtype") + 1] == "bfloat16"
    assert "--enforce-eager" not in command


def test_settings_override_the_profile(tmp_path: Path) -> None:
    server = server_on(
        "avx2",
        tmp_path,
        engine="vllm",
        dtype="bfloat16",
        enforce_eager=False,
        startup_timeout_s=99,
    )
    command = server.command(tmp_path / "model")
    assert command[command.index("--dtype") + 1] == "bfloat16"
    assert "--enforce-eager" not in command
    assert server.startup_timeout_s == 99


def test_a_forced_cpu_class_replaces_the_detected_one(tmp_path: Path) -> None:
    server = server_on("amx", tmp_path, cpu_class="avx2")
    assert server.profile.cpu_class == "avx2" and server.engine == "llama.cpp"
    assert server.command(tmp_path / "model")[1:3] == ["-m", "chatbot.llm.llama_server"]
    assert "avx2" in server.describe()


def test_batched_tokens_never_below_the_model_length(tmp_path: Path) -> None:
    server = server_on("avx2", tmp_path, max_model_len=8192, engine="vllm")
    command = server.command(tmp_path / "model")
    assert command[command.index("--max-num-batched-tokens") + 1] == "8192"
