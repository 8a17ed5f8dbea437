"""Where an attempt's code came from, and how much of it the execution signal chose.

``attribute(attempt)`` reads an ``AttemptRecord`` (plain Python, no model): the writer stores its
fields as columns of ``attempts`` (storage/schema.sql), so a problem's final solution has them
through its attempt (``solutions.agent_index``).

code_source, the path the code took:

    greedy     the γ = 0, t = 0 baseline agent decoded it
    sampler    an unguided sampler (γ = 0, t > 0: the no-guidance ablation) sampled it
    draft      an EG-CFG agent accepted a draft: a candidate of its exploration step (sampled
               from p_sol at the agent's t, no signal) that completed the function and passed the
               visible tests, at line ``verified_line`` (decode.accept_verified); the lines before
               it are the agent's own
    guided     an EG-CFG agent's line loop wrote it to its end, and at least one of its tokens was
               chosen under an execution signal
    unguided   the same, but none was: every line was spared guidance (skip rules, or a problem
               without visible tests), so the code is p_sol's argmax, as greedy's is
    loop       only in rows back-filled from an export without lines: an EG-CFG agent's line loop
               wrote it to its end, guided or unguided is not known
    none       the attempt has no code

and what of the final code the decoder chose (for a draft, the lines before it; the draft's own
tokens were sampled, not decoded):

    final_tokens          tokens of the attempt's code chosen by the decoder
    final_guided_lines    lines written under a signal with a token in the code
    final_guided_tokens   tokens chosen under a signal (γ > 0, the line's signal non-empty)
    final_flipped_tokens  of those, the ones where the guidance changed the unguided argmax

A token is in the code when its text starts before the end of the code (text offsets of the token
texts, in order): the closing fence, the EOS token, a dropped trailing statement and blank lines
after the code are not.  None = not known (a copied attempt's lines are in the run it came from; a
back-filled row has no lines).
"""
from __future__ import annotations

from dataclasses import dataclass

from .records import AttemptRecord

SOURCES = ("greedy", "sampler", "draft", "guided", "unguided", "loop", "none")
LOOP_SOURCES = ("guided", "unguided", "loop")  # an EG-CFG agent's own line loop wrote the code to its end


@dataclass(frozen=True)
class Attribution:
    code_source: str
    final_tokens: int | None = None
    final_guided_lines: int | None = None
    final_guided_tokens: int | None = None
    final_flipped_tokens: int | None = None


def attribute(attempt: AttemptRecord) -> Attribution:
    """The attribution of an attempt from its lines and token decisions."""
    a = attempt
    if not a.lines:  # a copied greedy attempt, or one that wrote nothing
        return attribute_without_lines(a.agent.gamma, a.agent.t, a.stop_reason, a.code, a.verified_line,
                                       n_tokens=0, header_unguided=False)
    end = len(a.code)  # (the decoder's code ends in one newline: trailing whitespace is not code)
    offset = tokens = lines = guided = flipped = 0
    for line in a.lines:
        under_signal = bool(line.signal_text) and a.agent.gamma != 0
        in_code = 0
        for d in line.tokens:
            if offset < end:
                in_code += 1
                guided += under_signal
                flipped += under_signal and d.argmax_changed
            offset += len(d.token_text)
        tokens += in_code
        lines += under_signal and in_code > 0
    source = source_of(a.agent.gamma, a.agent.t, a.stop_reason, a.code)
    if source == "loop":
        source = "guided" if guided else "unguided"
    return Attribution(source, tokens, lines, guided, flipped)


def source_of(gamma: float, t: float, stop_reason: str, code: str) -> str:
    """The code source that the agent and the ending tell ('loop' for an EG-CFG agent's own line
    loop: whether it is guided is in its lines)."""
    if not code.strip():
        return "none"
    if gamma == 0:
        return "greedy" if t == 0 else "sampler"
    return "draft" if stop_reason == "verified" else "loop"


def attribute_without_lines(gamma: float, t: float, stop_reason: str, code: str, verified_line: int | None, *,
                            n_tokens: int, header_unguided: bool) -> Attribution:
    """What an attempt tells without its lines (a stored row of a results export; ``n_tokens``:
    its token count).  The signal counts are known where they are certainly 0: no code, γ = 0, a
    draft accepted at line 0, or at line 1 when the header line is written unguided (skip rule
    'header', ``header_unguided``).  A draft's code holds every token decoded before it, so its
    ``final_tokens`` is ``n_tokens``; other final-token counts need the lines."""
    source = source_of(gamma, t, stop_reason, code)
    if source == "none":
        return Attribution(source, 0, 0, 0, 0)
    tokens = n_tokens if source == "draft" else None
    unsignalled = gamma == 0 or (source == "draft" and verified_line is not None
                                 and (verified_line == 0 or (verified_line == 1 and header_unguided)))
    return Attribution(source, tokens, *((0, 0, 0) if unsignalled else (None, None, None)))
