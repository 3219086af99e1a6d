"""Token-level decoding over one llama.cpp context, with fast grammar constraints.

Why not ``Llama.create_completion(grammar=...)``: llama-cpp-python puts the grammar
sampler in front of the sampling chain, so every step checks the grammar against the
whole vocabulary (262,144 tokens for Gemma 3). That makes constrained decoding about
three times slower per token than free decoding. This engine does what llama.cpp's
own ``common/sampling.cpp`` does instead: pick a token from the raw logits first, ask
the grammar about that one token, and only when it is rejected mask the full
vocabulary and pick again. Most steps then cost one forward pass plus a one-token
grammar check. It also reuses the KV cache for the longest common prefix of
consecutive prompts, so a second decoding phase (the arguments after the tool name)
only evaluates the new tokens.

``score`` gives the log-probability of a given continuation in one batched pass
(logits requested for every position of the batch), which is what choosing a tool
by likelihood needs (see ``_choice.py``).
"""

from __future__ import annotations

import codecs
import ctypes
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from sapient.core.errors import ConfigurationError, LLMError

__all__ = ["Engine", "Generation", "GrammarError"]

#: Candidates checked against the grammar before falling back to the whole vocabulary.
_SHORTLIST = 64
#: Positions scored per batch in ``Engine.score`` (each keeps a vocabulary of logits).
_SCORE_CHUNK = 64
#: Characters that end a JSON value: a rejected token starting with one of them means
#: "this value is done", whatever the grammar then allows.
_ENDERS = b",]}"
_TOKEN_DTYPE = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)


class GrammarError(ConfigurationError):
    """A GBNF grammar that llama.cpp could not parse."""


class Generation:
    """One decoding run: iterate for text deltas; afterwards read the totals.

    Attributes:
        text: everything generated (stop strings removed).
        prompt_s / decode_s: seconds spent evaluating the prompt and decoding.
        evaluated_tokens: prompt tokens actually evaluated (the rest came from the
            KV cache).
        prompt_tokens / completion_tokens: token counts of this run.
        finish_reason: ``"stop"`` (end of generation, a stop string or a complete
            grammar), or ``"length"`` (``max_tokens`` or the context ran out).
    """

    def __init__(self, steps: Iterator[str]) -> None:
        self._steps = steps
        self.text = ""
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.finish_reason: str | None = None
        self.prompt_s = 0.0
        self.decode_s = 0.0
        self.evaluated_tokens = 0

    def __iter__(self) -> Iterator[str]:
        return self._steps

    def run(self) -> Generation:
        """Consume the whole generation (non-streaming use) and return self."""
        for _ in self._steps:
            pass
        return self


class Engine:
    """Decoding over a loaded ``llama_cpp.Llama`` (which supplies model, context, batch).

    Thread-safe: a lock serialises generations, since one context holds one sequence.
    """

    def __init__(self, llama: Any) -> None:
        import llama_cpp

        self._lib = llama_cpp
        self.llama = llama
        self.vocab = llama._model.vocab
        self.n_vocab = int(llama.n_vocab())
        self.n_ctx = int(llama.n_ctx())
        self.lock = threading.RLock()
        self._cands = np.zeros(self.n_vocab, dtype=_TOKEN_DTYPE)
        self._cands["id"] = np.arange(self.n_vocab, dtype=np.intc)
        self._one = np.zeros(1, dtype=_TOKEN_DTYPE)
        self._array_t = llama_cpp.llama_token_data_array
        self._data_p = llama_cpp.llama_token_data_p
        self._buf = ctypes.create_string_buffer(64)
        self._pieces: dict[int, bytes] = {}
        self._ids: dict[bytes, int] | None = None
        self._kept = 0
        self._closers: list[int] | None = None
        self._enders: np.ndarray | None = None

    # -- tokens ------------------------------------------------------------------------

    def tokenize(self, text: str, *, add_bos: bool) -> list[int]:
        """Tokenize with special tokens parsed (chat-template markers become tokens)."""
        return list(self.llama.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True))

    def is_eog(self, token: int) -> bool:
        return bool(self._lib.llama_vocab_is_eog(self.vocab, token))

    def piece(self, token: int) -> bytes:
        """The bytes of one token (control tokens render as nothing), cached."""
        cached = self._pieces.get(token)
        if cached is None:
            n = self._lib.llama_token_to_piece(self.vocab, token, self._buf, len(self._buf), 0,
                                               False)
            if n < 0:  # buffer too small: grow once and retry
                self._buf = ctypes.create_string_buffer(-n)
                n = self._lib.llama_token_to_piece(self.vocab, token, self._buf, len(self._buf),
                                                   0, False)
            cached = self._pieces[token] = self._buf.raw[:n]
        return cached

    # -- KV cache -------------------------------------------------------------------

    def _feed(self, tokens: Sequence[int]) -> None:
        """Make the context hold exactly ``tokens``, reusing the cached common prefix."""
        llama = self.llama
        n_cached = llama.n_tokens
        keep = 0
        if n_cached:
            cached = llama.input_ids[:n_cached]
            m = min(n_cached, len(tokens))
            diff = np.nonzero(cached[:m] != np.asarray(tokens[:m], dtype=cached.dtype))[0]
            keep = int(diff[0]) if diff.size else m
        keep = min(keep, len(tokens) - 1)  # re-evaluate at least one token for fresh logits
        if keep <= 0 or not llama._ctx.kv_cache_seq_rm(-1, keep, -1):
            keep = 0
            llama._ctx.kv_cache_clear()
        llama.n_tokens = keep
        self._kept = keep
        llama.eval(list(tokens[keep:]))

    def score(self, prefix: Sequence[int], continuation: Sequence[int]) -> float:
        """Sum of the log-probabilities the model gives ``continuation`` after ``prefix``.

        The continuation is evaluated in batches with logits kept for every position,
        so scoring 40 tokens costs about one 40-token prompt evaluation rather than
        40 decoding steps. The KV cache is left holding prefix and continuation, so
        scoring several continuations of one prefix evaluates the prefix once.
        """
        if not prefix or not continuation:
            raise LLMError("score() needs a non-empty prefix and continuation.",
                           provider="llamacpp")
        if len(prefix) + len(continuation) > self.n_ctx:
            raise LLMError(f"Prefix and continuation ({len(prefix) + len(continuation)} "
                           f"tokens) do not fit the context of {self.n_ctx}.",
                           provider="llamacpp")
        llama = self.llama
        with self.lock:
            self._feed(prefix)
            total = float(_log_softmax(self._logits())[continuation[0]])
            rest, targets = list(continuation[:-1]), list(continuation[1:])
            step = max(1, min(_SCORE_CHUNK, int(llama.n_batch)))
            for i in range(0, len(rest), step):
                chunk = rest[i:i + step]
                n_past = llama.n_tokens
                llama._ctx.kv_cache_seq_rm(-1, n_past, -1)
                llama._batch.set_batch(batch=chunk, n_past=n_past, logits_all=True)
                llama._ctx.decode(llama._batch)
                llama.input_ids[n_past:n_past + len(chunk)] = chunk
                llama.n_tokens += len(chunk)
                for j, target in enumerate(targets[i:i + len(chunk)]):
                    ptr = self._lib.llama_get_logits_ith(llama._ctx.ctx, j)
                    row = np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))
                    total += float(_log_softmax(row)[target])
            return total

    def _logits(self) -> np.ndarray:
        ptr = self._lib.llama_get_logits_ith(self.llama._ctx.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).copy()

    # -- grammar ---------------------------------------------------------------------

    def _grammar_sampler(self, grammar: str) -> Any:
        from ._log import error_mark, last_llama_errors

        seen = error_mark()
        smpl = self._lib.llama_sampler_init_grammar(self.vocab, grammar.encode("utf-8"), b"root")
        if not smpl:
            said = "; ".join(last_llama_errors(since=seen)[-3:]) or "no reason given"
            raise GrammarError(
                f"llama.cpp could not parse the grammar ({said}). First lines: "
                f"{grammar[:300]!r}"
            )
        return smpl

    def _apply(self, smpl: Any, cands: np.ndarray) -> None:
        arr = self._array_t(
            data=cands.ctypes.data_as(self._data_p), size=len(cands), selected=-1, sorted=False
        )
        self._lib.llama_sampler_apply(smpl, ctypes.byref(arr))

    def _allowed(self, smpl: Any, token: int) -> bool:
        self._one["id"][0] = token
        self._one["logit"][0] = 0.0
        self._apply(smpl, self._one)
        return bool(np.isfinite(self._one["logit"][0]))

    def _mask(self, smpl: Any, logits: np.ndarray) -> np.ndarray:
        self._cands["id"] = np.arange(self.n_vocab, dtype=np.intc)
        self._cands["logit"] = logits
        self._apply(smpl, self._cands)
        return self._cands["logit"].copy()

    # -- sampling ---------------------------------------------------------------------

    @staticmethod
    def _pick(logits: np.ndarray, rng: np.random.Generator | None, temperature: float,
              top_k: int, top_p: float) -> int:
        if rng is None or temperature <= 0:
            return int(np.argmax(logits))
        finite = np.isfinite(logits)
        k = int(min(top_k, int(finite.sum()))) or 1
        idx = np.argpartition(logits, -k)[-k:]
        idx = idx[np.argsort(logits[idx])[::-1]]
        scaled = (logits[idx] - logits[idx[0]]) / temperature
        probs = np.exp(scaled)
        probs /= probs.sum()
        cut = int(np.searchsorted(np.cumsum(probs), top_p)) + 1
        probs = probs[:cut] / probs[:cut].sum()
        return int(idx[rng.choice(len(probs), p=probs)])

    def generate(
        self,
        tokens: Sequence[int],
        *,
        max_tokens: int,
        grammar: str | None = None,
        temperature: float = 0.0,
        top_k: int = 40,
        top_p: float = 0.95,
        seed: int | None = None,
        stop: Sequence[str] = (),
        stop_tokens: Sequence[int] = (),
        is_complete: Callable[[str], bool] | None = None,
        wrap_up: int = 0,
    ) -> Generation:
        """Generate after ``tokens``; optionally under a GBNF ``grammar``.

        ``is_complete(text)`` lets a caller end early once the grammar would accept
        the end and the text is whole (e.g. a closed JSON object), which saves the
        forward pass that would only produce the end-of-generation token.
        ``stop_tokens`` end the generation like end-of-generation tokens do (turn
        markers of a chat format, which render as no text). ``wrap_up`` extra tokens
        may follow an exhausted ``max_tokens`` under a grammar: in them, tokens that
        close strings, arrays and objects are preferred, so JSON cut short by the
        budget still ends well-formed (the finish reason stays ``"length"``).
        """
        if not tokens:
            raise LLMError("Nothing to generate from: the prompt is empty.", provider="llamacpp")
        if len(tokens) >= self.n_ctx:
            raise LLMError(
                f"The prompt has {len(tokens)} tokens but the context holds {self.n_ctx}. "
                "Shorten the conversation or raise n_ctx (e.g. 'llamacpp:default?n_ctx=8192').",
                provider="llamacpp",
            )
        gen = Generation(iter(()))
        gen._steps = self._steps(gen, list(tokens), max_tokens, grammar, temperature, top_k,
                                 top_p, seed, tuple(stop), frozenset(stop_tokens), is_complete,
                                 wrap_up if grammar else 0)
        return gen

    def _steps(self, gen: Generation, tokens: list[int], max_tokens: int, grammar: str | None,
               temperature: float, top_k: int, top_p: float, seed: int | None,
               stop: tuple[str, ...], stop_tokens: frozenset[int],
               is_complete: Callable[[str], bool] | None, wrap_up: int) -> Iterator[str]:
        rng = np.random.default_rng(seed) if temperature > 0 else None
        budget = max(0, min(max_tokens, self.n_ctx - len(tokens)))
        extra = max(0, min(wrap_up, self.n_ctx - len(tokens) - budget))
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        hold = max((len(s) for s in stop), default=0)
        text = ""
        emitted = 0
        gen.prompt_tokens = len(tokens)
        with self.lock:
            smpl = self._grammar_sampler(grammar) if grammar else None
            try:
                started = time.perf_counter()
                n_before = self.llama.n_tokens
                self._feed(tokens)
                gen.evaluated_tokens = self.llama.n_tokens - min(n_before, self._kept)
                decoding = time.perf_counter()
                gen.prompt_s = decoding - started
                finish = "length"
                for step in range(budget + extra):
                    logits = self._logits()
                    closing = self._closer(smpl) if step >= budget else None
                    token = closing if closing is not None else self._pick(
                        logits, rng, temperature, top_k, top_p)
                    if smpl is not None and not self._allowed(smpl, token):
                        token = self._constrained_pick(smpl, token, logits, rng, temperature,
                                                       top_k, top_p)
                    if token in stop_tokens or self.is_eog(token):
                        finish = "stop" if step < budget else "length"
                        break
                    if smpl is not None:
                        self._lib.llama_sampler_accept(smpl, token)
                    gen.completion_tokens += 1
                    text += decoder.decode(self.piece(token))
                    cut = _find_stop(text, stop, emitted)
                    if cut is not None:
                        text = text[:cut]
                        finish = "stop"
                        break
                    safe = len(text) - _partial_stop(text, stop, hold)
                    if safe > emitted:
                        yield text[emitted:safe]
                        emitted = safe
                    if (is_complete is not None and smpl is not None
                            and self._allowed_end(smpl) and is_complete(text)):
                        finish = "stop" if step < budget else "length"
                        break
                    self.llama.eval([token])
                text += decoder.decode(b"", final=True)
                if len(text) > emitted:
                    yield text[emitted:]
                gen.text = text
                gen.finish_reason = finish
                gen.decode_s = time.perf_counter() - decoding
            finally:
                if smpl is not None:
                    self._lib.llama_sampler_free(smpl)

    def _constrained_pick(self, smpl: Any, rejected: int, logits: np.ndarray,
                          rng: np.random.Generator | None, temperature: float, top_k: int,
                          top_p: float) -> int:
        """A token the grammar allows, after it rejected the model's first choice.

        Cheapest first: a healed prefix of the rejected token; then, when the model
        wanted to end the value (``,`` ``]`` ``}`` or the end of the reply where the
        grammar allows none of them), the best allowed token that ends it; then the
        best allowed token among the 64 most likely ones (for greedy decoding this is
        exactly the best allowed token overall); only then the whole vocabulary.
        """
        healed = self._heal(smpl, rejected)
        if healed is not None:
            return healed
        first = self.piece(rejected).lstrip()[:1]
        if self.is_eog(rejected) or (first and first in _ENDERS):
            ender = self._ender(smpl, logits)
            if ender is not None:
                return ender
        k = min(_SHORTLIST, self.n_vocab)
        idx = np.argpartition(logits, -k)[-k:].astype(np.intc)
        short = self._cands[:k]
        short["id"] = idx
        short["logit"] = logits[idx]
        self._apply(smpl, short)
        allowed = np.isfinite(short["logit"])
        if allowed.any():
            masked = np.full(self.n_vocab, -np.inf, dtype=np.float32)
            masked[idx[allowed]] = logits[idx[allowed]]
        else:
            masked = self._mask(smpl, logits)
            if not np.isfinite(masked).any():
                raise LLMError("The grammar allows no further token; it may be "
                               "contradictory.", provider="llamacpp")
        return self._pick(masked, rng, temperature, top_k, top_p)

    def _heal(self, smpl: Any, rejected: int) -> int | None:
        """The longest allowed token whose text is a prefix of the rejected token's.

        A model that wants ``},`` where the grammar allows only ``}`` meant to close
        the object; taking ``}`` keeps that intent, where the best-scoring allowed
        token might instead be another digit (``10`` becoming ``1000...``).
        """
        piece = self.piece(rejected)
        if len(piece) < 2:
            return None
        ids = self._piece_ids()
        for n in range(len(piece) - 1, 0, -1):
            tid = ids.get(piece[:n])
            if tid is not None and self._allowed(smpl, tid):
                return tid
        return None

    def _piece_ids(self) -> dict[bytes, int]:
        """Token id of each token text (built on first use, about half a second)."""
        if self._ids is None:
            ids: dict[bytes, int] = {}
            for tid in range(self.n_vocab):
                ids.setdefault(self.piece(tid), tid)
            ids.pop(b"", None)
            self._ids = ids
        return self._ids

    def _closer(self, smpl: Any) -> int | None:
        """The shortest allowed token made only of closing characters (``"]}``).

        Shortest first: inside a string only ``"`` ends it (``]]]`` would be text),
        and each step then closes one more level.
        """
        if self._closers is None:
            closers = self._tokens_made_of(b'"]}')
            self._closers = [tid for _, tid in sorted(closers, key=lambda c: (len(c[0]), c))]
        for tid in self._closers:
            if self._allowed(smpl, tid):
                return tid
        return None

    def _ender(self, smpl: Any, logits: np.ndarray) -> int | None:
        """The most likely allowed token that ends the current JSON value.

        Without this a number is the usual victim: after ``"top": 5`` the model wants
        ``,`` for one more argument, the schema has none left, and the best allowed
        token is another digit, so ``5`` became ``5000000000000000``. The model meant
        the value to end, so the value ends (``}`` here).
        """
        if self._enders is None:
            self._enders = np.array([tid for _, tid in self._tokens_made_of(b'"' + _ENDERS)],
                                    dtype=np.intc)
        if not len(self._enders):
            return None
        for tid in self._enders[np.argsort(logits[self._enders])[::-1]]:
            if self._allowed(smpl, int(tid)):
                return int(tid)
        return None

    def _tokens_made_of(self, chars: bytes) -> list[tuple[bytes, int]]:
        """(text, id) of every token whose text, spaces aside, is only ``chars``."""
        return [(p, tid) for p, tid in self._piece_ids().items()
                if p.strip() and not p.strip().strip(chars)]

    def _allowed_end(self, smpl: Any) -> bool:
        eos = self.llama.token_eos()
        return eos >= 0 and self._allowed(smpl, eos)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    top = float(np.max(logits))
    return logits - top - float(np.log(np.exp(logits - top).sum()))


def _find_stop(text: str, stop: tuple[str, ...], start: int) -> int | None:
    best: int | None = None
    for s in stop:
        if not s:
            continue
        i = text.find(s, max(0, start - len(s)))
        if i != -1 and (best is None or i < best):
            best = i
    return best


def _partial_stop(text: str, stop: tuple[str, ...], hold: int) -> int:
    """How many trailing characters could still be the start of a stop string."""
    if not hold:
        return 0
    for n in range(min(hold, len(text)), 0, -1):
        tail = text[-n:]
        if any(s.startswith(tail) for s in stop):
            return n
    return 0
