"""The OpenAI-compatible engine: EG-CFG against a server's ``/v1/completions`` (vLLM, SGLang,
llama.cpp's ``llama-server``, llama-cpp-python's ``llama_cpp.server``), local or remote.

A stream is just its token ids; every request sends the whole prompt, so the server's prefix
cache (vLLM / SGLang automatic prefix caching, llama-server's ``cache_prompt``) serves the part
that repeats: p_sol and p_dyn both start with the same prompt head, and each grows by one token
per request.  Requests are 1-token greedy completions with ``logprobs = top_logprobs``.

**Top-k CFG.**  A server returns only the top-k log-probabilities of each stream (k =
``top_logprobs``, recorded in the run id; the reference's endpoint mode used k = 5).  So:

  * p_sol's distribution is its top-k, renormalised (``-inf`` elsewhere): the combined CFG
    distribution lives on the *unguided* top-k — a token the plain prompt does not rank in its
    top-k can never be chosen, however strongly the execution signal favours it;
  * a token of p_sol's top-k that p_dyn did not return gets p_dyn's k-th (lowest returned)
    log-prob as a floor (it is at most that likely under p_dyn);
  * recorded log-probs are over those tokens, not the full vocabulary.

With k large (vLLM allows 20 by default, ``--max-logprobs`` more) this approaches full CFG.

**Prompts** go as token-id lists where the server accepts them (vLLM, SGLang, llama-server):
the server then sees exactly the decoder's stream.  ``prompt_format = "auto"`` (the default)
probes this at load time and falls back to text (``llama_cpp.server`` takes only strings): a
text prompt is re-tokenized by the server, which may split the text at the end of a stream
differently from the ids the decoder holds.  ``"ids"`` / ``"text"`` force one.

**Candidates** (``sample``): ``n`` rows per request with ``stop = ["\\n"]`` and a per-request
``seed``, one line per round (rows still short of d lines continue with one request each), so no
row runs past its d-th line; a server that returns fewer than ``n`` choices (llama-server: n ≤
slots; llama_cpp.server ignores n) gets the missing rows as single requests with their own seeds.

**Faults.**  Timeouts, connection errors, 429 and 5xx are retried ``retries`` times with
exponential backoff (``backoff_s``, doubled per try); after that the request raises
``EngineError`` and the problem in flight fails (the sweep records it; a rerun resumes).  A
wrong URL, a wrong model name, a rejected or missing key fail ``load`` — before any problem.
All requests of the process share one bounded semaphore (``max_concurrency``).

**The API key** is read only from the environment variable NAMED by ``api_key_env``; it is never
stored in the engine's options, the run id, the store, a log or an error message.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urlsplit, urlunsplit

import torch

from .. import compute
from .base import FENCE, EngineBase, EngineError

logger = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


# ------------------------------------------------------------------------------------- streams
@dataclass
class Stream:
    """A token sequence; ``last`` is the top-k [(id, logprob)] after its last token."""

    ids: list[int]
    last: list[tuple[int, float]] = field(default_factory=list)
    last_vec: torch.Tensor | None = None


@dataclass
class Pair:
    sol: Stream
    dyn: Stream


class _Retryable(Exception):
    pass


def _safe_url(url: str) -> str:
    """The URL without user:password (never printed)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class _Client:
    """httpx over one base URL: the key header, a process-wide semaphore, retries with backoff."""

    def __init__(self, base_url: str, api_key: str | None, *, timeout_s: float, retries: int,
                 backoff_s: float, max_concurrency: int):
        import httpx

        self.httpx = httpx
        self.base_url = base_url.rstrip("/")
        self.shown_url = _safe_url(self.base_url)
        self._key = api_key
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        limits = httpx.Limits(max_connections=max_concurrency * 2, max_keepalive_connections=max_concurrency * 2)
        self.http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s, limits=limits)
        self.retries, self.backoff_s = retries, backoff_s
        self.gate = threading.BoundedSemaphore(max_concurrency)
        self.requests = 0  # requests sent (tries included): bench/server_concurrency.py reads it
        self._count_lock = threading.Lock()

    def scrub(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    def call(self, method: str, path: str, body: dict | None = None, *, retries: int | None = None) -> dict:
        retries = self.retries if retries is None else retries
        last = ""
        for attempt in range(retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1) * (1 + 0.25 * random.random()))
            try:
                return self._once(method, path, body)
            except _Retryable as e:
                last = str(e)
                logger.info("%s %s: %s (try %d of %d)", method, path, last, attempt + 1, retries + 1)
        raise EngineError(f"server {self.shown_url} failed {method} {path} after {retries + 1} tries: {last}")

    def _once(self, method: str, path: str, body: dict | None) -> dict:
        httpx = self.httpx
        with self._count_lock:
            self.requests += 1
        compute.add(server_requests=1)
        try:
            with self.gate:
                r = self.http.request(method, self.base_url + path, json=body)
        except httpx.TimeoutException as e:
            raise _Retryable(f"timed out ({type(e).__name__})") from None
        except httpx.TransportError as e:  # refused, reset, DNS
            raise _Retryable(self.scrub(f"cannot connect ({type(e).__name__}: {e})")) from None
        if r.status_code in RETRY_STATUS:
            raise _Retryable(f"HTTP {r.status_code}: {self.scrub(r.text[:300])}")
        if r.status_code in (401, 403):
            raise EngineError(f"server {self.shown_url} refused the request (HTTP {r.status_code}): "
                              "check api_key_env names a variable holding a valid key")
        if r.status_code >= 400:
            raise EngineError(f"server {self.shown_url} answered {method} {path} with HTTP {r.status_code}: "
                              f"{self.scrub(r.text[:300])}")
        try:
            return r.json()
        except ValueError:
            raise EngineError(f"server {self.shown_url}: {path} did not return JSON: {self.scrub(r.text[:200])}") from None


# ------------------------------------------------------------------------------- the tokenizer
def load_tokenizer(spec: str):
    """A transformers tokenizer (with the chat template) for a model spec, without the weights:
    the default model's bf16 cache folder or its GGUF, a local folder or .gguf file, a hub id, or
    ``factory:module:function`` (returning ``(model, tokenizer)``)."""
    from .. import model as m

    if spec.startswith("factory:"):
        from . import load_factory

        return load_factory(spec)()[1]
    bundle = m.offline_model(spec)
    if bundle is not None:
        env = os.environ.get("EGCFG_MODEL", "").strip()
        if spec == "default" and env and env not in m.DEFAULT_ALIASES:
            return load_tokenizer(env)
        folder = m.bf16_cache_path(bundle=bundle)
        if m.is_converted_model_dir(folder):
            return m.load_tokenizer_folder(folder)
        try:
            gguf = m.ensure_gguf(bundle=bundle)
        except m.ModelUnavailableError:
            return _hub_tokenizer(bundle.hub_id)
        return _gguf_tokenizer(gguf)
    path = Path(spec).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return _gguf_tokenizer(path)
    if path.is_dir():
        return m.load_tokenizer_folder(path)
    return _hub_tokenizer(spec)


def _gguf_tokenizer(path: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)


def _hub_tokenizer(spec: str):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(spec, local_files_only=m_offline())
    except (OSError, ValueError) as e:
        raise EngineError(f"no tokenizer for {spec!r} (a local folder, a .gguf file, the default model's "
                          f"cache or a reachable hub id): {e}") from None


def m_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _eos_ids(tokenizer, spec: str) -> frozenset[int]:
    eos = set(EngineBase.tokenizer_eos_ids(tokenizer))
    path = getattr(tokenizer, "name_or_path", "") or ""
    gen = Path(path) / "generation_config.json"
    if gen.is_file():
        try:
            v = json.loads(gen.read_text()).get("eos_token_id")
        except (OSError, ValueError):
            v = None
        if isinstance(v, int):
            eos.add(v)
        elif isinstance(v, list):
            eos.update(int(x) for x in v)
    return frozenset(eos)


# ---------------------------------------------------------------------------------- the engine
class OpenAIEngine(EngineBase):
    """EG-CFG over an OpenAI-compatible ``/v1/completions`` (see the module docstring)."""

    OPTIONS = {
        "base_url": "http://127.0.0.1:8000/v1",
        "model": "",  # the served model name; "" = the first of GET /v1/models
        "api_key_env": "",  # the NAME of an environment variable holding the key; "" = no key
        "top_logprobs": 5,  # k: CFG sees each stream's top-k (semantic: in the run id)
        "prompt_format": "auto",  # auto | ids | text (see the module docstring)
        "timeout_s": 120.0,
        "retries": 3,
        "backoff_s": 0.5,
        "max_concurrency": 16,  # requests in flight at once, all threads of the process together
        "tokenizer": "",  # local tokenizer spec; "" = the model spec's (the offline default model)
    }
    SEMANTIC = ("top_logprobs",)

    def __init__(self, client: _Client, tokenizer, *, model: str, top_logprobs: int, prompt_ids: bool,
                 batch_prompts: bool, server: str = "", name: str = ""):
        self.client = client
        self.tokenizer = tokenizer
        self.model = model
        self.k = top_logprobs
        self.prompt_ids = prompt_ids
        self.batch_prompts = batch_prompts
        self.server = server
        self.name = name or model
        self.eos_ids = EngineBase.tokenizer_eos_ids(tokenizer)
        self.vocab_size = len(tokenizer)
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="openai-engine")
        self._text_ids: dict[str, int] | None = None
        self._map_lock = threading.Lock()

    # ---- requests ---------------------------------------------------------------------------
    def _prompt(self, ids: Sequence[int]):
        return list(ids) if self.prompt_ids else self.tokenizer.decode(list(ids), skip_special_tokens=False)

    def _body(self, prompt, **kw) -> dict:
        body = {"model": self.model, "prompt": prompt, **kw}
        if self.server == "llama.cpp":
            body["cache_prompt"] = True
        if self.server == "vllm" and "logprobs" in kw:
            body["return_tokens_as_token_ids"] = True
        return body

    def _next_body(self, prompt) -> dict:
        return self._body(prompt, max_tokens=1, temperature=0.0, logprobs=self.k)

    def _complete(self, body: dict, prompt_tokens: int) -> list[dict]:
        """POST /completions: its choices.  Counts on the open compute meters the prompt tokens
        sent (the decoder's ids of the prompts) and the completion tokens returned (the server's
        ``usage``, else the choices' texts encoded)."""
        out = self.client.call("POST", "/completions", body)
        choices = _choices(out, self.client.shown_url)
        returned = (out.get("usage") or {}).get("completion_tokens")
        if not isinstance(returned, int):
            returned = sum(len(self.encode(c.get("text") or "")) for c in choices)
        compute.add(server_prompt_tokens=prompt_tokens, server_completion_tokens=returned)
        return choices

    def _topk(self, ids: Sequence[int]) -> list[tuple[int, float]]:
        return self._first_position(self._complete(self._next_body(self._prompt(ids)), len(ids))[0])

    def _topk_two(self, a: Sequence[int], b: Sequence[int]):
        if self.batch_prompts:
            choices = sorted(self._complete(self._next_body([self._prompt(a), self._prompt(b)]), len(a) + len(b)),
                             key=lambda c: c.get("index", 0))
            if len(choices) == 2:
                return self._first_position(choices[0]), self._first_position(choices[1])
        other = self._pool.submit(compute.carry(self._topk), b)
        first = self._topk(a)
        return first, other.result()

    # ---- response shapes --------------------------------------------------------------------
    def _first_position(self, choice: dict) -> list[tuple[int, float]]:
        """[(token id, logprob)] of the first generated position, from either response shape:
        classic (vLLM, llama_cpp.server: ``logprobs.top_logprobs[0]`` a {token: logprob} dict) or
        chat-style (llama-server: ``logprobs.content[0].top_logprobs`` a list of entries)."""
        lp = choice.get("logprobs") or {}
        pairs: list[tuple[int, float]] = []
        if lp.get("content"):
            for e in lp["content"][0].get("top_logprobs") or []:
                tid = e.get("id")
                if tid is None:
                    raw = bytes(e["bytes"]).decode("utf-8", "replace") if e.get("bytes") else e.get("token", "")
                    tid = self._token_id(raw)
                if tid is not None:
                    pairs.append((int(tid), float(e["logprob"])))
        elif lp.get("top_logprobs"):
            for tok, val in (lp["top_logprobs"][0] or {}).items():
                tid = self._token_id(tok)
                if tid is not None:
                    pairs.append((tid, float(val)))
        elif lp and choice.get("finish_reason") == "stop" and not choice.get("text") and self.eos_ids:
            # llama_cpp.server records no logprobs for an EOS it generated: the greedy token is EOS
            pairs = [(min(self.eos_ids), 0.0)]
        else:
            raise EngineError(f"server {self.client.shown_url} returned no logprobs (is `logprobs` supported?): "
                              f"{json.dumps(choice)[:200]}")
        # a token string several ids decode to keeps its best value once
        best: dict[int, float] = {}
        for tid, val in pairs:
            if tid < self.vocab_size and (tid not in best or val > best[tid]):
                best[tid] = val
        if not best:
            raise EngineError(f"server {self.client.shown_url}: none of the returned tokens is in the local "
                              f"tokenizer (is `tokenizer` the served model's?): {json.dumps(choice)[:200]}")
        return sorted(best.items(), key=lambda p: -p[1])

    def _token_id(self, text: str) -> int | None:
        if text.startswith("token_id:"):  # vLLM's return_tokens_as_token_ids
            return int(text.split(":", 1)[1])
        if self._text_ids is None:
            with self._map_lock:
                if self._text_ids is None:
                    texts = self.tokenizer.batch_decode([[i] for i in range(self.vocab_size)],
                                                        skip_special_tokens=False)
                    table: dict[str, int] = {}
                    for i, t in enumerate(texts):
                        table.setdefault(t, i)  # the lowest id of a text wins
                    self._text_ids = table
        return self._text_ids.get(text)

    def _vector(self, top: list[tuple[int, float]], floor_at: Sequence[int] = ()) -> torch.Tensor:
        """Logits over the local vocabulary: the top-k values, ``floor`` (the k-th value) at the
        given ids missing from the top-k, ``-inf`` elsewhere."""
        v = torch.full((self.vocab_size,), float("-inf"))
        for tid, val in top:
            v[tid] = val
        if floor_at:
            floor = min(val for _, val in top)
            seen = {tid for tid, _ in top}
            for tid in floor_at:
                if tid not in seen:
                    v[tid] = floor
        return v

    # ---- streams ----------------------------------------------------------------------------
    def start(self, ids: Sequence[int]) -> Stream:
        stream = Stream([])
        self.extend(stream, ids)
        return stream

    @staticmethod
    def fork(stream: Stream) -> Stream:
        return Stream(list(stream.ids), list(stream.last), stream.last_vec)

    def extend(self, stream: Stream, ids: Sequence[int]) -> torch.Tensor:
        if not ids:
            raise ValueError("extend needs at least one token")
        stream.ids.extend(ids)
        stream.last = self._topk(stream.ids)
        stream.last_vec = self._vector(stream.last)
        return stream.last_vec

    def step(self, stream: Stream, token_id: int) -> torch.Tensor:
        return self.extend(stream, [token_id])

    def pair(self, sol: Stream, dyn: Stream, *, batched: bool = True) -> Pair:
        """Hold both streams.  p_dyn's last logits (already handed to the decoder by ``extend``)
        get the floor at p_sol's top-k tokens it did not return (in place, before they are used)."""
        if dyn.last_vec is not None and dyn.last:
            floor = min(val for _, val in dyn.last)
            for tid, _ in sol.last:
                if dyn.last_vec[tid] == float("-inf"):
                    dyn.last_vec[tid] = floor
        return Pair(sol, dyn)

    def pair_step(self, pair: Pair, token_id: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Both streams' 1-token requests at once (one request with two prompts where the server
        takes a prompt list, else two concurrent requests)."""
        pair.sol.ids.append(token_id)
        pair.dyn.ids.append(token_id)
        pair.sol.last, pair.dyn.last = self._topk_two(pair.sol.ids, pair.dyn.ids)
        pair.sol.last_vec = self._vector(pair.sol.last)
        pair.dyn.last_vec = self._vector(pair.dyn.last, [t for t, _ in pair.sol.last])
        return pair.sol.last_vec, pair.dyn.last_vec

    @staticmethod
    def unpair(pair: Pair) -> Stream:
        return pair.sol

    # ---- candidates -------------------------------------------------------------------------
    def sample(self, stream: Stream, *, n: int, temperature: float, top_p: float, lines: int,
               max_new_tokens: int, seed: int) -> list[list[int]]:
        """``n`` continuations of up to ``lines`` lines, one line per round (``stop = ["\\n"]``)."""
        texts = [""] * n
        done = [False] * n
        for rnd in range(lines):
            todo = [j for j in range(n) if not done[j]]
            if not todo:
                break
            if rnd == 0:
                got = self._sample_rows(stream.ids, n, temperature, top_p, max_new_tokens, seed)
            else:
                futs = {j: self._pool.submit(compute.carry(self._sample_rows), stream.ids + self.encode(texts[j]), 1,
                                             temperature, top_p, max_new_tokens - len(self.encode(texts[j])),
                                             _derive(seed, rnd, j)) for j in todo}
                got = {j: f.result()[0] for j, f in futs.items()}
                got = [got.get(j) for j in range(n)]
            for j in todo:
                text, newline = got[j]
                texts[j] += text + ("\n" if newline else "")
                used = len(self.encode(texts[j]))
                if not newline or FENCE in texts[j] or used >= max_new_tokens:
                    done[j] = True
        return [self.encode(t) for t in texts]

    def _sample_rows(self, ids: list[int], n: int, temperature: float, top_p: float, max_tokens: int,
                     seed: int) -> list[tuple[str, bool]]:
        """n rows of one line each: [(text, ended at a newline)]; fewer choices than asked for
        are topped up with single requests, each with its own seed."""
        if max_tokens < 1:
            return [("", False)] * n
        body = self._body(self._prompt(ids), max_tokens=max_tokens, temperature=max(temperature, 0.0),
                          top_p=top_p, n=n, seed=seed, stop=["\n"])
        rows = [_row(c) for c in sorted(self._complete(body, len(ids)), key=lambda c: c.get("index", 0))][:n]
        if len(rows) < n:
            futs = [self._pool.submit(compute.carry(self._sample_rows), ids, 1, temperature, top_p, max_tokens,
                                      _derive(seed, 0, j)) for j in range(len(rows), n)]
            rows += [f.result()[0] for f in futs]
        return rows

    # ---- loading ----------------------------------------------------------------------------
    @classmethod
    def load(cls, spec: str, **options) -> tuple["OpenAIEngine", str]:
        """Connect and check (before any problem starts): the server answers, the model is
        served, the key is accepted, completions return logprobs; detect the response shape,
        whether token-id prompts and prompt lists are accepted."""
        o = {**cls.OPTIONS, **options}
        try:
            import httpx  # noqa: F401
        except ImportError as e:
            raise EngineError("the openai engine needs httpx: pip install httpx") from e
        k = o["top_logprobs"]
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise EngineError(f"engine.top_logprobs: expected an integer >= 1, got {k!r}")
        if o["prompt_format"] not in ("auto", "ids", "text"):
            raise EngineError(f"engine.prompt_format: expected auto, ids or text, got {o['prompt_format']!r}")
        for key in ("max_concurrency",):
            if not isinstance(o[key], int) or o[key] < 1:
                raise EngineError(f"engine.{key}: expected an integer >= 1, got {o[key]!r}")
        key = None
        if o["api_key_env"]:
            key = os.environ.get(o["api_key_env"])
            if not key:
                raise EngineError(f"engine.api_key_env names the environment variable {o['api_key_env']!r}, "
                                  "which is not set (or empty): export it with the server's API key")
        client = _Client(o["base_url"], key, timeout_s=float(o["timeout_s"]), retries=int(o["retries"]),
                         backoff_s=float(o["backoff_s"]), max_concurrency=o["max_concurrency"])
        url = client.shown_url
        try:
            listing = client.call("GET", "/models", retries=min(1, int(o["retries"])))
        except EngineError as e:
            raise EngineError(f"no OpenAI-compatible server at {url} (GET /models failed; base_url should "
                              f"end in /v1): {e}") from None
        served = [m.get("id") for m in listing.get("data") or [] if isinstance(m, dict)]
        model = o["model"] or (served[0] if served else "")
        if not model:
            raise EngineError(f"server {url} serves no model (GET /models returned none)")
        if served and model not in served:
            raise EngineError(f"server {url} does not serve model {model!r} (it serves: {', '.join(served)})")
        owner = " ".join(str(m.get("owned_by", "")) for m in listing.get("data") or [] if isinstance(m, dict))
        server = "vllm" if "vllm" in owner else "llama.cpp" if "llamacpp" in owner else ""
        tokenizer = load_tokenizer(o["tokenizer"] or spec)
        if not getattr(tokenizer, "chat_template", None):
            raise EngineError(f"tokenizer for {o['tokenizer'] or spec!r} has no chat template")
        eng = cls(client, tokenizer, model=model, top_logprobs=k, prompt_ids=o["prompt_format"] != "text",
                  batch_prompts=False, server=server, name=model)
        eng.eos_ids = _eos_ids(tokenizer, spec)
        probe = eng.encode("def f():\n    return")
        if o["prompt_format"] == "auto":
            try:
                eng._topk_probe(probe)
            except EngineError as e:
                logger.info("server %s does not take token-id prompts (%s); sending text", url, e)
                eng.prompt_ids = False
        try:
            eng._topk_probe(probe)
        except EngineError as e:
            raise EngineError(f"server {url}, model {model!r}: a 1-token completion with logprobs={k} failed: "
                              f"{e}") from None
        try:  # one request with a list of two prompts (vLLM, SGLang, llama-server)
            out = client.call("POST", "/completions", eng._next_body([eng._prompt(probe), eng._prompt(probe[:-1])]),
                              retries=0)
            eng.batch_prompts = len(_choices(out, url)) == 2
        except EngineError:
            eng.batch_prompts = False
        logger.info("openai engine: %s model %s (%s), prompts as %s, prompt lists %s", url, model,
                    server or "server", "ids" if eng.prompt_ids else "text", eng.batch_prompts)
        tok_hash = hashlib.sha256(json.dumps(tokenizer.get_vocab(), sort_keys=True).encode()).hexdigest()[:12]
        return eng, f"openai:{model}:{tok_hash}"

    def _topk_probe(self, ids):
        out = self.client.call("POST", "/completions", self._next_body(self._prompt(ids)), retries=0)
        return self._first_position(_choices(out, self.client.shown_url)[0])


def _choices(out: dict, url: str) -> list[dict]:
    choices = out.get("choices") if isinstance(out, dict) else None
    if not choices:
        raise EngineError(f"server {url}: a completion came back without choices: {json.dumps(out)[:200]}")
    return choices


def _row(choice: dict) -> tuple[str, bool]:
    """(text, ended at the newline stop) of one sampled choice.  vLLM names what stopped it
    (``stop_reason``: the string, or an EOS id / None); others say only ``finish_reason``."""
    text = choice.get("text") or ""
    if choice.get("finish_reason") != "stop":
        return text, False
    if "stop_reason" in choice:
        return text, choice["stop_reason"] == "\n"
    return text, FENCE not in text


def _derive(seed: int, rnd: int, row: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}|{rnd}|{row}".encode()).digest()[:4], "little") & 0x7FFFFFFF
