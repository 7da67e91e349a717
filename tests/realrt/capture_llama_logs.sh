#!/usr/bin/env bash
# Capture the start-up logs of a real llama-server that tests/data/llamacpp/*.log hold (the fixtures
# of tests/backends/llamacpp/test_logs.py). usage: capture_llama_logs.sh BIN_DIR MODEL OUT_DIR
# Each server binds 127.0.0.1 on a free port, is asked /health until ok, and is stopped by its pid.
set -euo pipefail
BIN=${1:?BIN_DIR}; MODEL=${2:?MODEL}; OUT=${3:?OUT_DIR}
mkdir -p "$OUT"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
capture() {
  local name=$1; shift
  local p; p=$(port)
  "$BIN/llama-server" -m "$MODEL" -t 1 --host 127.0.0.1 --port "$p" "$@" >"$OUT/$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || break
    curl -s "http://127.0.0.1:$p/health" | grep -q '"ok"' && break
    sleep 0.1
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" || true
  # the machine's paths are not part of the fact
  sed -i -e "s#$MODEL#/models/model.gguf#g" -e "s#$(cd "$BIN/.." && pwd)#/opt/llama#g" "$OUT/$name.log"
}
capture default_verbosity -c 2048 -np 2
capture fa_on_q8 -lv 4 -c 2048 -np 2 -fa on -ctk q8_0 -ctv q8_0
capture fa_auto_quantized_v -lv 4 -c 1024 -np 1 -ctv q8_0
capture fa_auto -lv 4 -c 1024 -np 1
capture fit_reduced -lv 4 -fitt 23990
capture fa_off_quantized_v -lv 4 -c 1024 -fa off -ctv q8_0
capture parallel_auto -lv 4
