"""The transformers engine: KV-cached streams over an in-process causal LM (the default engine).

A stream is the token ids plus a stock ``transformers.DynamicCache``.  ``fork`` deep-copies the
cache (the shared prompt head is copied, never re-prefilled); ``pair`` stacks the p_sol and p_dyn
caches into one left-padded batch of two rows so both streams advance with one forward per token
(``bench/decode_speed.py``: 1.16x a plain step, against 2.8x for two forwards); candidates come
from stock ``generate`` on a copy of the p_sol cache, each row stopping at its own d-th newline.
"""
from __future__ import annotations

import copy
import inspect
import threading
from dataclasses import dataclass, field
from typing import Sequence

import torch
from transformers import DynamicCache, LogitsProcessor, LogitsProcessorList, StoppingCriteria, StoppingCriteriaList

from .. import compute
from .base import FENCE, EngineBase


class LineBudget(StoppingCriteria):
    """Per-row stop rule for candidate sampling: a row is done at its own d-th newline or a fence."""

    def __init__(self, tokenizer, prompt_len: int, lines: int):
        self.tokenizer = tokenizer
        self.prompt_len = prompt_len
        self.lines = lines

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs) -> torch.BoolTensor:
        texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_len:], skip_special_tokens=True)
        done = [t.count("\n") >= self.lines or FENCE in t for t in texts]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


class CountForwards(LogitsProcessor):
    """Counts generate's forward passes (it calls its logits processors once per step) on the
    open compute meters; leaves the scores as they are."""

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        compute.add(forward_passes=1)
        return scores


@dataclass
class Stream:
    """One token sequence and its KV cache."""

    ids: list[int]
    cache: DynamicCache = field(default_factory=DynamicCache)


@dataclass
class Pair:
    """p_sol and p_dyn for one line.  Batched: one cache of two left-padded rows (row 0 = p_sol)."""

    sol: Stream
    dyn: Stream
    cache: DynamicCache | None = None  # batched rows; None = two separate forwards
    mask: torch.Tensor | None = None  # (2, L) attention mask: 0 on left padding
    positions: torch.Tensor | None = None  # (2,) next position id of each row
    pad: tuple[int, int] = (0, 0)  # left padding of each row


class TransformersEngine(EngineBase):
    """A transformers causal LM + tokenizer with the engine operations (see ``base.Engine``)."""

    def __init__(self, model, tokenizer, *, name: str = "model"):
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.device = next(model.parameters()).device
        self.eos_ids = self.tokenizer_eos_ids(tokenizer, getattr(model, "generation_config", None))
        pad = tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else next(iter(self.eos_ids), 0))
        self._lock = threading.Lock()  # one forward at a time per model (agents may run in threads)
        # transformers renamed ``past_key_values`` to ``cache`` (5.2x); accept both generations
        params = inspect.signature(model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"

    # ---- single streams ---------------------------------------------------------------------
    def start(self, ids: Sequence[int]) -> Stream:
        stream = Stream([])
        self.extend(stream, ids)
        return stream

    @staticmethod
    def fork(stream: Stream) -> Stream:
        return Stream(list(stream.ids), copy.deepcopy(stream.cache))

    @torch.inference_mode()
    def extend(self, stream: Stream, ids: Sequence[int]) -> torch.Tensor:
        """Append ``ids`` to the stream; returns the logits after the last one."""
        if not ids:
            raise ValueError("extend needs at least one token")
        x = torch.tensor([list(ids)], dtype=torch.long, device=self.device)
        with self._lock:
            out = self.model(input_ids=x, use_cache=True, logits_to_keep=1, **{self._cache_kw: stream.cache})
        compute.add(forward_passes=1)
        stream.ids.extend(ids)
        return out.logits[0, -1].float()

    def step(self, stream: Stream, token_id: int) -> torch.Tensor:
        return self.extend(stream, [token_id])

    # ---- two streams in one batch ------------------------------------------------------------
    def pair(self, sol: Stream, dyn: Stream, *, batched: bool = True) -> Pair:
        """Hold both streams; batched: stack their caches into one left-padded batch of two rows."""
        if not batched:
            return Pair(sol, dyn)
        ls, ld = sol.cache.get_seq_length(), dyn.cache.get_seq_length()
        length = max(ls, ld)
        pads = (length - ls, length - ld)
        data = []
        for la, lb in zip(sol.cache.layers, dyn.cache.layers):
            rows_k, rows_v = [], []
            for layer, pad in ((la, pads[0]), (lb, pads[1])):
                k, v = layer.keys, layer.values
                if pad:
                    k = torch.nn.functional.pad(k, (0, 0, pad, 0))
                    v = torch.nn.functional.pad(v, (0, 0, pad, 0))
                rows_k.append(k)
                rows_v.append(v)
            data.append((torch.cat(rows_k, 0), torch.cat(rows_v, 0)))
        mask = torch.ones(2, length, dtype=torch.long, device=self.device)
        for row, pad in enumerate(pads):
            mask[row, :pad] = 0
        return Pair(sol, dyn, DynamicCache(ddp_cache_data=data), mask,
                    torch.tensor([ls, ld], device=self.device), pads)

    @torch.inference_mode()
    def pair_step(self, pair: Pair, token_id: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Append the same token to both streams; returns (p_sol logits, p_dyn logits)."""
        if pair.cache is None:
            return self.step(pair.sol, token_id), self.step(pair.dyn, token_id)
        pair.mask = torch.cat([pair.mask, torch.ones(2, 1, dtype=torch.long, device=self.device)], dim=1)
        x = torch.full((2, 1), token_id, dtype=torch.long, device=self.device)
        with self._lock:
            out = self.model(input_ids=x, attention_mask=pair.mask, position_ids=pair.positions[:, None],
                             use_cache=True, **{self._cache_kw: pair.cache})
        compute.add(forward_passes=1)
        pair.positions = pair.positions + 1
        pair.sol.ids.append(token_id)
        pair.dyn.ids.append(token_id)
        return out.logits[0, -1].float(), out.logits[1, -1].float()

    @staticmethod
    def unpair(pair: Pair) -> Stream:
        """p_sol as a stand-alone stream again (its row of a batched cache, padding dropped)."""
        if pair.cache is not None:
            pad = pair.pad[0]
            data = [(layer.keys[0:1, :, pad:].contiguous(), layer.values[0:1, :, pad:].contiguous())
                    for layer in pair.cache.layers]
            pair.sol.cache = DynamicCache(ddp_cache_data=data)
        return pair.sol

    # ---- candidate exploration ---------------------------------------------------------------
    @torch.inference_mode()
    def sample(self, stream: Stream, *, n: int, temperature: float, top_p: float, lines: int,
               max_new_tokens: int, seed: int) -> list[list[int]]:
        """Sample ``n`` continuations of the stream as one batch (stock ``generate``).

        Each row stops at its own ``lines``-th newline (or a closing fence, or EOS); the shared
        prefix is not re-encoded: the cache is copied, cropped by one token and repeated n times.
        """
        ids = stream.ids
        work = copy.deepcopy(stream.cache)
        work.crop(-1)  # drop the last token: generate re-encodes it (negative = tokens to remove)
        work.batch_repeat_interleave(n)
        x = torch.tensor([list(ids)] * n, dtype=torch.long, device=self.device)
        stop = StoppingCriteriaList([LineBudget(self.tokenizer, len(ids), lines)])
        with torch.random.fork_rng(devices=[]), self._lock:
            torch.manual_seed(seed)
            out = self.model.generate(
                input_ids=x, attention_mask=torch.ones_like(x), **{self._cache_kw: work},
                do_sample=True, temperature=max(temperature, 1e-5), top_p=top_p, top_k=0,
                max_new_tokens=max_new_tokens, stopping_criteria=stop,
                logits_processor=LogitsProcessorList([CountForwards()]),
                pad_token_id=self.pad_id, eos_token_id=sorted(self.eos_ids) or None,
            )
        rows = []
        for row in out[:, len(ids):].tolist():
            rows.append([t for t in row if t != self.pad_id and t not in self.eos_ids])
        return rows

    # ---- loading -----------------------------------------------------------------------------
    @classmethod
    def load(cls, spec: str, **options) -> tuple["TransformersEngine", str]:
        """(engine, model fingerprint) for a model spec: what ``model.load_model`` takes, or
        ``factory:module:function`` returning ``(model, tokenizer)`` (the tests' tiny model)."""
        if spec.startswith("factory:"):
            from . import load_factory

            model, tok = load_factory(spec)()
            return cls(model, tok, name=spec), spec
        from ..model import load_model, model_fingerprint
        from .probe import probe_torch

        probe_torch()  # torch's kernels run once in a child first: a native crash is an EngineError here
        loaded = load_model(spec)
        return cls(loaded.model, loaded.tokenizer, name=loaded.name), model_fingerprint(loaded)
