"""A streaming server that emits tokens at a fixed, known rate, in Ollama's and llama-server's
formats, for benchmarks/client_scale.py and the tests of the load generator (tests/bench/test_load.py).

usage: python tests/fakestream.py PORT TOKENS_PER_SECOND   (binds 127.0.0.1; stop it by its PID)
Each stream sends token i at start + i / rate (an absolute schedule, so no drift accumulates);
the last line carries the token count and the decode time as the real servers do.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from aiohttp import web


def make_app(rate: float) -> web.Application:
    async def stream(request: web.Request, ollama: bool) -> web.StreamResponse:
        body = await request.json()
        n = int(body.get("options", {}).get("num_predict", 0) if ollama else
                body.get("n_predict", 0)) or 16
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson" if ollama
                                               else "text/event-stream"})
        await response.prepare(request)
        start = time.monotonic()
        for i in range(n):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            piece = {"response": "tok ", "done": False} if ollama else {"content": "tok ",
                                                                        "stop": False}
            await response.write(_line(piece, ollama))
        decode_s = time.monotonic() - start
        last = ({"response": "", "done": True, "eval_count": n,
                 "eval_duration": int(decode_s * 1e9)} if ollama else
                {"content": "", "stop": True,
                 "timings": {"predicted_n": n, "predicted_ms": decode_s * 1000}})
        await response.write(_line(last, ollama))
        await response.write_eof()
        return response

    async def ollama(request: web.Request) -> web.StreamResponse:
        return await stream(request, True)

    async def llama(request: web.Request) -> web.StreamResponse:
        return await stream(request, False)

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def version(_request: web.Request) -> web.Response:
        return web.json_response({"version": "0.0.0-fake"})

    async def props(_request: web.Request) -> web.Response:  # what llama-server's client reads
        return web.json_response({"build_info": "b0-fake", "total_slots": 256,
                                  "model_path": "/fake.gguf",
                                  "default_generation_settings": {"n_ctx": 4096}})

    app = web.Application()
    app.add_routes([web.post("/api/generate", ollama), web.post("/completion", llama),
                    web.get("/health", health), web.get("/api/version", version),
                    web.get("/props", props)])
    return app


def _line(data: dict[str, object], ollama: bool) -> bytes:
    text = json.dumps(data)
    return (text + "\n").encode() if ollama else f"data: {text}\n\n".encode()


if __name__ == "__main__":
    port, rate = int(sys.argv[1]), float(sys.argv[2])
    web.run_app(make_app(rate), host="127.0.0.1", port=port, print=None, backlog=1024)
