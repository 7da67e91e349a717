"""Convert a GGUF model to a Hugging Face model directory that vLLM can load (bfloat16, no
quantization config): `python gguf2hf.py DIR FILE.gguf OUT`. Needs transformers, torch and gguf
(the vLLM venv has them). From /work/shared/realrt/gguf2hf.py, with its paths as arguments."""

import sys
import time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

d, f, out = sys.argv[1], sys.argv[2], sys.argv[3]
t = time.time()
tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
m = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.bfloat16)
m.hf_quantizer = None
if hasattr(m.config, "quantization_config"):
    del m.config.quantization_config
m.is_quantized = False
m.save_pretrained(out)
tok.save_pretrained(out)
print("converted in", round(time.time() - t, 1), "s")
