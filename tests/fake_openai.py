"""A fake OpenAI-compatible ``/v1/completions`` server on loopback, backed by the tiny model.

It answers like the real servers do, in the shape asked for: ``classic`` (vLLM, llama_cpp.server:
``logprobs.top_logprobs`` dicts keyed by token text) or ``chat`` (llama-server:
``logprobs.content[].top_logprobs[]`` entries with ``bytes``).  Knobs reproduce what differs
between servers (token-id prompts, prompt lists, ``n``) and faults (scripted HTTP statuses,
delays, a required API key).  Used only by the tests.

    with FakeServer(shape="chat", accept_ids=False) as srv:
        srv.url   # http://127.0.0.1:PORT/v1
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch

from tests.tiny import tiny_model


class FakeServer:
    def __init__(self, *, shape: str = "classic", accept_ids: bool = True, batch_prompts: bool = True,
                 honor_n: bool = True, api_key: str | None = None, model_name: str = "tiny",
                 owned_by: str = "fake", seed: int = 1):
        self.shape, self.accept_ids, self.batch_prompts, self.honor_n = shape, accept_ids, batch_prompts, honor_n
        self.api_key, self.model_name, self.owned_by = api_key, model_name, owned_by
        self.model, self.tok = tiny_model(seed=seed)
        self.lock = threading.Lock()
        self.faults: list[int] = []  # HTTP statuses to answer the next completions with
        self.delay_s = 0.0  # sleep before answering a completion (timeouts)
        self.echo_auth = False  # put the Authorization header into error bodies (secret hygiene)
        self.completions = 0
        self.bodies: list[dict] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    # ---- the model ----------------------------------------------------------------------------
    def _ids(self, prompt) -> list[int]:
        if isinstance(prompt, list):
            if not self.accept_ids:
                raise ValueError("prompt must be a string")
            return [int(t) for t in prompt]
        return self.tok.encode(prompt, add_special_tokens=False)

    @torch.inference_mode()
    def _logprobs(self, ids: list[int]) -> torch.Tensor:
        with self.lock:
            out = self.model(input_ids=torch.tensor([ids]))
        return torch.log_softmax(out.logits[0, -1].float(), dim=-1)

    def _entry(self, tid: int, lp: float) -> dict:
        text = self.tok.decode([tid])
        return {"token": text, "logprob": lp, "bytes": list(text.encode())}

    def _choice(self, ids, index, *, max_tokens, temperature, logprobs, seed, stop) -> dict:
        gen = torch.Generator().manual_seed(int(seed or 0) + index)
        text, out_tokens, positions, finish = "", [], [], "length"
        for _ in range(max_tokens):
            lp = self._logprobs(ids + out_tokens)
            if logprobs:
                vals, idx = lp.topk(logprobs)
                positions.append([(int(i), float(v)) for i, v in zip(idx, vals)])
            if temperature and temperature > 0:
                tid = int(torch.multinomial(torch.softmax(lp / temperature, -1), 1, generator=gen))
            else:
                tid = int(lp.argmax())
            if tid == self.tok.eos_token_id:
                finish = "stop"
                break
            out_tokens.append(tid)
            text += self.tok.decode([tid])
            hit = next((s for s in stop if s in text), None)
            if hit:
                text, finish = text.split(hit, 1)[0], "stop"
                break
        choice = {"text": text, "index": index, "finish_reason": finish, "logprobs": None}
        if logprobs:
            if self.shape == "chat":
                choice["logprobs"] = {"content": [
                    {**self._entry(p[0][0], p[0][1]), "top_logprobs": [self._entry(t, v) for t, v in p]}
                    for p in positions]}
            else:
                choice["logprobs"] = {"tokens": [self.tok.decode([p[0][0]]) for p in positions],
                                      "top_logprobs": [{self.tok.decode([t]): v for t, v in p} for p in positions]}
        return choice

    def complete(self, body: dict) -> dict:
        prompt = body["prompt"]
        prompts = prompt if isinstance(prompt, list) and prompt and isinstance(prompt[0], (list, str)) else [prompt]
        if len(prompts) > 1 and not self.batch_prompts:
            raise ValueError("one prompt per request")
        n = int(body.get("n", 1)) if self.honor_n else 1
        choices = []
        for p_i, p in enumerate(prompts):
            ids = self._ids(p)
            for j in range(n):
                choices.append(self._choice(ids, p_i * n + j, max_tokens=int(body.get("max_tokens", 16)),
                                            temperature=float(body.get("temperature", 1.0)),
                                            logprobs=int(body.get("logprobs") or 0), seed=body.get("seed"),
                                            stop=body.get("stop") or []))
        return {"object": "text_completion", "model": self.model_name, "choices": choices}

    # ---- HTTP ---------------------------------------------------------------------------------
    def _handler(self):
        srv = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, obj: dict):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorized(self) -> bool:
                if srv.api_key is None or self.headers.get("Authorization") == f"Bearer {srv.api_key}":
                    return True
                self._send(401, {"error": {"message": "bad key " + (self.headers.get("Authorization", "")
                                                                     if srv.echo_auth else "")}})
                return False

            def do_GET(self):
                if not self._authorized():
                    return
                if self.path.rstrip("/") == "/v1/models":
                    self._send(200, {"object": "list", "data": [{"id": srv.model_name, "object": "model",
                                                                 "owned_by": srv.owned_by}]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if not self._authorized():
                    return
                if self.path.rstrip("/") != "/v1/completions":
                    self._send(404, {"error": {"message": "not found"}})
                    return
                with srv.lock:
                    srv.completions += 1
                    srv.bodies.append(body)
                    fault = srv.faults.pop(0) if srv.faults else None
                if srv.delay_s:
                    time.sleep(srv.delay_s)
                if fault:
                    auth = self.headers.get("Authorization", "") if srv.echo_auth else ""
                    self._send(fault, {"error": {"message": f"scripted fault {auth}"}})
                    return
                if body.get("model") != srv.model_name:
                    self._send(404, {"error": {"message": f"model {body.get('model')} not found"}})
                    return
                try:
                    self._send(200, srv.complete(body))
                except ValueError as e:
                    self._send(400, {"error": {"message": str(e)}})

        return Handler
