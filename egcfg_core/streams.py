"""The language-model backend behind EG-CFG: KV-cached streams over a transformers causal LM.

Small interface, so a second backend (e.g. llama.cpp) can plug in later:

    prefill(ids, cache)        extend a stream by some tokens, get next-token logits
    step(token, cache)         advance one stream by one token
    pair(sol, dyn)             advance the p_sol and p_dyn streams together, one token a step
    fork(cache)                an independent copy of a stream's cache
    sample(ids, cache, ...)    s candidate continuations of d lines (stock ``generate``)

Caches are stock ``transformers.DynamicCache`` objects; logits are 1-D float32 tensors.
"""
from __future__ import annotations

import copy
import inspect
import threading
from dataclasses import dataclass
from typing import Sequence

import torch
from transformers import DynamicCache, StoppingCriteria, StoppingCriteriaList

FENCE = "```"


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


@dataclass
class PairState:
    """Both streams in one batch of two rows (row 0 = p_sol, row 1 = p_dyn), left-padded."""

    cache: DynamicCache
    mask: torch.Tensor  # (2, L) attention mask: 0 on left padding
    positions: torch.Tensor  # (2,) next position id of each row
    pad: tuple[int, int]  # left padding of each row


class TransformersLM:
    """A causal LM + tokenizer with the few KV-cached operations the decoder needs."""

    def __init__(self, model, tokenizer, *, name: str = "model"):
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.device = next(model.parameters()).device
        eos = set()
        for attr in ("eos_token_id",):
            v = getattr(tokenizer, attr, None)
            if v is not None:
                eos.add(int(v))
        gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
        if isinstance(gen_eos, int):
            eos.add(gen_eos)
        elif gen_eos:
            eos.update(int(e) for e in gen_eos)
        self.eos_ids = frozenset(eos)
        pad = tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else next(iter(self.eos_ids), 0))
        self._lock = threading.Lock()  # one forward at a time per model (agents may run in threads)
        # transformers renamed ``past_key_values`` to ``cache`` (5.2x); accept both generations
        params = inspect.signature(model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"

    # ---- text --------------------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    def token_text(self, token_id: int) -> str:
        return self.tokenizer.decode([token_id], skip_special_tokens=False)

    # ---- single streams ---------------------------------------------------------------------
    @torch.inference_mode()
    def prefill(self, ids: Sequence[int], cache: DynamicCache | None = None) -> tuple[torch.Tensor, DynamicCache]:
        """Extend ``cache`` (or a new one) by ``ids``; returns the logits after the last id."""
        if not ids:
            raise ValueError("prefill needs at least one token")
        cache = DynamicCache() if cache is None else cache
        x = torch.tensor([list(ids)], dtype=torch.long, device=self.device)
        with self._lock:
            out = self.model(input_ids=x, use_cache=True, logits_to_keep=1, **{self._cache_kw: cache})
        return out.logits[0, -1].float(), cache

    @torch.inference_mode()
    def step(self, token_id: int, cache: DynamicCache) -> torch.Tensor:
        logits, _ = self.prefill([token_id], cache)
        return logits

    @staticmethod
    def fork(cache: DynamicCache) -> DynamicCache:
        return copy.deepcopy(cache)

    # ---- two streams in one batch ------------------------------------------------------------
    def pair(self, sol: DynamicCache, dyn: DynamicCache) -> PairState:
        """Stack the p_sol and p_dyn caches into one left-padded batch of two rows."""
        ls, ld = sol.get_seq_length(), dyn.get_seq_length()
        length = max(ls, ld)
        pads = (length - ls, length - ld)
        data = []
        for la, lb in zip(sol.layers, dyn.layers):
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
        return PairState(DynamicCache(ddp_cache_data=data), mask, torch.tensor([ls, ld], device=self.device), pads)

    @torch.inference_mode()
    def pair_step(self, token_id: int, state: PairState) -> tuple[torch.Tensor, torch.Tensor]:
        """Append the same token to both rows; returns (p_sol logits, p_dyn logits)."""
        state.mask = torch.cat([state.mask, torch.ones(2, 1, dtype=torch.long, device=self.device)], dim=1)
        x = torch.full((2, 1), token_id, dtype=torch.long, device=self.device)
        with self._lock:
            out = self.model(input_ids=x, attention_mask=state.mask, position_ids=state.positions[:, None],
                             use_cache=True, **{self._cache_kw: state.cache})
        state.positions = state.positions + 1
        return out.logits[0, -1].float(), out.logits[1, -1].float()

    @staticmethod
    def unpair_sol(state: PairState) -> DynamicCache:
        """The p_sol row of a paired cache as a stand-alone cache (padding dropped)."""
        pad = state.pad[0]
        data = [(layer.keys[0:1, :, pad:].contiguous(), layer.values[0:1, :, pad:].contiguous())
                for layer in state.cache.layers]
        return DynamicCache(ddp_cache_data=data)

    # ---- candidate exploration ---------------------------------------------------------------
    @torch.inference_mode()
    def sample(self, ids: Sequence[int], cache: DynamicCache, *, n: int, temperature: float, top_p: float,
               lines: int, max_new_tokens: int, seed: int) -> list[list[int]]:
        """Sample ``n`` continuations of ``ids`` (whose KV is in ``cache``) as one batch.

        Each row stops at its own ``lines``-th newline (or a closing fence, or EOS); the shared
        prefix is not re-encoded: the cache is copied, cropped by one token and repeated n times.
        """
        work = self.fork(cache)
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
                pad_token_id=self.pad_id, eos_token_id=sorted(self.eos_ids) or None,
            )
        rows = []
        for row in out[:, len(ids):].tolist():
            rows.append([t for t in row if t != self.pad_id and t not in self.eos_ids])
        return rows
