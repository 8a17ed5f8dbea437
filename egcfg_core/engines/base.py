"""The engine protocol: the few operations the EG-CFG decoder asks of a language model.

A *stream* is one growing token sequence with whatever the engine keeps to extend it cheaply (a
transformers KV cache, a llama.cpp sequence id, or just the token ids for a remote server).  The
decoder (``decoding.py``) holds streams and never looks inside them:

    start(ids)                   a new stream holding ``ids`` (the prompt head shared by agents)
    fork(stream)                 an independent copy (the shared prefix is copied, not recomputed)
    extend(stream, ids)          append ids; returns the next-token logits
    step(stream, token)          append one token; returns the next-token logits
    pair(sol, dyn, batched)      hold p_sol and p_dyn together for one line of guided tokens
    pair_step(pair, token)       append the token to both; returns (p_sol logits, p_dyn logits)
    unpair(pair)                 p_sol goes on alone; p_dyn is released
    sample(stream, n=..., ...)   s candidate continuations of d lines at temperature t (seeded)
    release(stream)              free what the stream holds (no-op where memory is garbage collected)
    encode / decode / token_text, eos_ids, tokenizer (with the model's chat template)

Logits are 1-D float tensors over the tokenizer's vocabulary.  An engine that only sees the top-k
of each distribution (an OpenAI-compatible server) returns ``-inf`` outside what it saw; the
decoder's ``log_softmax`` then renormalises over the tokens it has (see ``engines/openai.py``).

Plain Python + torch: no prefect, no duckdb.
"""
from __future__ import annotations

from typing import Any, ClassVar, Protocol, Sequence, runtime_checkable

import torch

FENCE = "```"


class EngineError(RuntimeError):
    """An engine cannot be loaded or used (missing package, unreachable server, bad option)."""


@runtime_checkable
class Engine(Protocol):
    """What the decoder needs of a model.  One module per engine under ``egcfg_core/engines``."""

    name: str  # model name for records and logs
    tokenizer: Any  # a transformers tokenizer with the model's chat template (prompts.build_prompt)
    eos_ids: frozenset[int]

    # ---- text ---------------------------------------------------------------------------------
    def encode(self, text: str) -> list[int]: ...
    def decode(self, ids: Sequence[int]) -> str: ...
    def token_text(self, token_id: int) -> str: ...

    # ---- streams ------------------------------------------------------------------------------
    def start(self, ids: Sequence[int]) -> Any: ...
    def fork(self, stream: Any) -> Any: ...
    def extend(self, stream: Any, ids: Sequence[int]) -> torch.Tensor: ...
    def step(self, stream: Any, token_id: int) -> torch.Tensor: ...
    def release(self, stream: Any) -> None: ...

    # ---- p_sol and p_dyn together -------------------------------------------------------------
    def pair(self, sol: Any, dyn: Any, *, batched: bool = True) -> Any: ...
    def pair_step(self, pair: Any, token_id: int) -> tuple[torch.Tensor, torch.Tensor]: ...
    def unpair(self, pair: Any) -> Any: ...

    # ---- candidate exploration ----------------------------------------------------------------
    def sample(self, stream: Any, *, n: int, temperature: float, top_p: float, lines: int,
               max_new_tokens: int, seed: int) -> list[list[int]]: ...


class EngineBase:
    """Shared text helpers for engines whose tokenizer is a transformers tokenizer.

    Subclasses set ``tokenizer``, ``name`` and ``eos_ids``.  ``OPTIONS`` lists the engine's
    config options (``[engine]`` section) with defaults; ``SEMANTIC`` names those that change
    results (they enter the run id; e.g. the top-k a server returns), never secrets or addresses.
    """

    OPTIONS: ClassVar[dict[str, Any]] = {}
    SEMANTIC: ClassVar[tuple[str, ...]] = ()

    tokenizer: Any
    name: str
    eos_ids: frozenset[int]

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    def token_text(self, token_id: int) -> str:
        return self.tokenizer.decode([token_id], skip_special_tokens=False)

    def release(self, stream: Any) -> None:  # garbage-collected state by default
        return None

    @staticmethod
    def tokenizer_eos_ids(tokenizer, generation_config=None) -> frozenset[int]:
        """EOS ids from the tokenizer and (if given) the model's generation config."""
        eos: set[int] = set()
        v = getattr(tokenizer, "eos_token_id", None)
        if v is not None:
            eos.add(int(v))
        gen_eos = getattr(generation_config, "eos_token_id", None)
        if isinstance(gen_eos, int):
            eos.add(gen_eos)
        elif gen_eos:
            eos.update(int(e) for e in gen_eos)
        return frozenset(eos)

