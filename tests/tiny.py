"""A tiny random-weight Qwen2 causal LM + a character-level tokenizer, for fast tests.

Nothing is downloaded.  The tokenizer has one token per printable ASCII character plus "\\n" and
"\\t", an ``<unk>``, and the Qwen chat specials ``<|im_start|>``, ``<|im_end|>`` (eos) and
``<|endoftext|>`` (pad), with a Qwen-style chat template.  Decoding concatenates tokens, so
``decode(encode(s)) == s`` for any text over that alphabet (whitespace included).

    model, tokenizer = tiny_model(seed=0)
"""
from __future__ import annotations

import string

import torch
from tokenizers import Tokenizer, decoders, models
from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
UNK = "<unk>"
# printable ASCII 0x20..0x7e, then newline and tab
ALPHABET = tuple(chr(c) for c in range(0x20, 0x7F)) + ("\n", "\t")

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

assert set(string.printable) - set(ALPHABET) == {"\r", "\x0b", "\x0c"}


def tiny_vocab() -> dict[str, int]:
    """token -> id: specials first (ids 0..2), then <unk>, then the characters."""
    tokens = list(SPECIAL_TOKENS) + [UNK] + list(ALPHABET)
    return {t: i for i, t in enumerate(tokens)}


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    vocab = tiny_vocab()
    # BPE without merges and without a pre-tokenizer: every character is its own token and no
    # whitespace is dropped; Fuse concatenates on decode.
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=UNK))
    backend.decoder = decoders.Fuse()
    backend.add_special_tokens(list(SPECIAL_TOKENS))
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token=UNK,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
        clean_up_tokenization_spaces=False,
        model_max_length=4096,
    )
    tok.chat_template = CHAT_TEMPLATE
    return tok


def tiny_model(seed: int = 0, *, n_layer: int = 2, hidden: int = 64,
               ) -> tuple[Qwen2ForCausalLM, PreTrainedTokenizerFast]:
    """A random-weight Qwen2ForCausalLM (fp32, eval mode) and its tokenizer.

    The same ``seed`` gives the same weights; the global torch RNG is left untouched.
    """
    if hidden % 16:
        raise ValueError(f"hidden must be a multiple of 16 (4 heads of even size), got {hidden}")
    tok = tiny_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=n_layer,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        # larger than the default 0.02 so that the random logits are not all near-ties
        initializer_range=0.2,
        bos_token_id=None,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        dtype=torch.float32,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.generation_config.bos_token_id = None
    model.eval()
    return model, tok


LOAD_LOG_ENV = "EGCFG_TEST_LOAD_LOG"


def logged_tiny_model() -> tuple[Qwen2ForCausalLM, PreTrainedTokenizerFast]:
    """``tiny_model(seed=0)`` as a ``factory:tests.tiny:logged_tiny_model`` spec that appends this
    process's pid to the file ``$EGCFG_TEST_LOAD_LOG`` (when set): which processes loaded the model,
    and how often (a Dask worker should load it once, whatever number of problems it solves)."""
    import os

    if path := os.environ.get(LOAD_LOG_ENV):
        with open(path, "a") as fh:
            fh.write(f"{os.getpid()}\n")
    return tiny_model(seed=0)


def steer(model: Qwen2ForCausalLM, start: int, target: list[int], bias: float = 30.0):
    """Make ``model`` write ``target`` from position ``start`` on (a prompt of ``start`` tokens):
    a forward hook adds ``bias`` to the logit of ``target[k]`` at the position whose next token is
    the k-th after ``start``, row by row (positions from ``position_ids`` when the caller passes
    them, else from the cache's length), in every forward: plain calls, batched pairs, generate.
    Real decoding on a known text, for tests that need code that runs.  Returns the hook handle
    (``.remove()`` it)."""

    def hook(module, args, kwargs, out):
        positions = kwargs.get("position_ids")
        if positions is not None:
            last = positions[:, -1].tolist()
        else:
            cache = kwargs.get("cache", kwargs.get("past_key_values"))
            last = [cache.get_seq_length() - 1] * out.logits.shape[0]
        for row, pos in enumerate(last):
            k = int(pos) + 1 - start
            if 0 <= k < len(target):
                out.logits[row, -1, target[k]] += bias
        return out

    return model.register_forward_hook(hook, with_kwargs=True)
