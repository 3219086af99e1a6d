"""Conversation memory under a token budget: summarise old turns, recall old facts.

A chat that simply keeps every message grows until the model forgets its start (the
window slides) or the request overflows. :class:`ConversationMemory` keeps what the
model sees per turn under ``budget_tokens``:

* **recent turns** are sent verbatim, newest first, as many as fit;
* **older turns** are folded into a running **summary** written by the agent's own
  LLM (at most ``summary_share`` of the budget); a model that cannot write prose
  (``writes_answers`` is False, e.g. a tool-choosing 270M model) or a memory built
  with ``summarize=False`` trims them instead;
* what the **user said** in folded turns is archived sentence by sentence, and the
  sentences relevant to the new message are **recalled** into the context (at most
  ``recall_share`` of the budget), so a fact stated at turn 1 is still there at turn
  200 even when the summary lost it.

Relevance is BM25 (Robertson's k1=1.2, b=0.75, the textbook defaults, not tuned here)
between the new message and each archived sentence, written out in a few lines so the
core stays free of dependencies. A sentence is recalled only when it scores at least
half the best match: one shared common word ("my", "the") then does not pull in every
unrelated sentence, while every sentence about the asked-for subject does come back.
A different relevance measure (embeddings, say) plugs in as ``scorer``.

Tokens are counted with the model's tokenizer when the LLM exposes
``count_tokens(text) -> int``; otherwise with :func:`estimate_tokens` (about four
characters per token for ASCII text, the usual rule of thumb for English BPE
vocabularies, and one per non-ASCII character, which over-counts CJK and accents
rather than under-counting them) plus four tokens per message for the chat format.

Use it through a chat session (``agent.chat(memory=ConversationMemory(4000))``), or
directly where sessions are kept elsewhere (a server)::

    history = memory.context(prompt, agent.llm)      # may call the LLM to summarise
    result = agent.run(prompt, history=history)
    memory.add_result(result, history)
    saved = memory.to_dict()                         # JSON-ready; from_dict() restores

The budget covers the messages the memory hands to the agent plus the new message;
the agent's system prompt, the tool descriptions and the tool results produced
during the new turn come on top (leave room for them when choosing the budget). A
single message larger than the whole budget is still sent, whole.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .checkpoint import message_from_dict as _message_from_dict
from .checkpoint import message_to_dict as _message_to_dict
from .errors import SapientError
from .messages import Message

__all__ = ["ConversationMemory", "estimate_tokens", "BM25"]

#: Tokens the chat format adds around each message (role markers, separators).
MESSAGE_OVERHEAD = 4

SUMMARY_INSTRUCTIONS = (
    "You keep the memory of a conversation between a user and an assistant. Rewrite the "
    "summary so that it also covers the new part of the conversation. Keep every fact the "
    "user stated (names, numbers, dates, places, preferences, decisions) and every open "
    "question; drop greetings and repetition. Write plain sentences, at most {words} words. "
    "Reply with the summary only."
)

_HEAD = ("Memory of this conversation ({n} older turns are condensed here to stay within "
         "the context budget).")
_SUMMARY_LABEL = "Summary of the earlier conversation:\n"
_RECALL_LABEL = "Earlier statements by the user that may bear on the new message:\n"

_WORD = re.compile(r"\w+", re.UNICODE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")

Scorer = Callable[[str, Sequence[str]], list[float]]


def estimate_tokens(text: str | None) -> int:
    """Tokens in ``text`` without a tokenizer: ASCII chars / 4 plus one per other char."""
    if not text:
        return 0
    ascii_chars = len(text) if text.isascii() else len(text.encode("ascii", "ignore"))
    return math.ceil(ascii_chars / 4) + len(text) - ascii_chars


def _terms(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class BM25:
    """A growing BM25 index over short texts (Lucene's non-negative IDF).

    Postings per term, so scoring a query touches only the texts that share a term
    with it; adding a text is O(its length).
    """

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.lengths: list[int] = []
        self.postings: dict[str, list[tuple[int, int]]] = {}

    def add(self, text: str) -> None:
        doc = len(self.lengths)
        terms = Counter(_terms(text))
        self.lengths.append(sum(terms.values()))
        for term, freq in terms.items():
            self.postings.setdefault(term, []).append((doc, freq))

    def scores(self, query: str) -> list[float]:
        """One score per text added, in order (0 for texts sharing no term)."""
        n = len(self.lengths)
        out = [0.0] * n
        if not n:
            return out
        avg = sum(self.lengths) / n or 1.0
        k1, b = self.k1, self.b
        for term in set(_terms(query)):
            posting = self.postings.get(term, [])
            idf = math.log(1 + (n - len(posting) + 0.5) / (len(posting) + 0.5))
            for doc, f in posting:
                norm = k1 * (1 - b + b * self.lengths[doc] / avg)
                out[doc] += idf * f * (k1 + 1) / (f + norm)
        return out


def _split_turns(messages: Iterable[Message]) -> list[list[Message]]:
    """Group messages into turns; a turn starts at each user message."""
    turns: list[list[Message]] = []
    for m in messages:
        if m.role == "system":
            continue
        if m.role == "user" or not turns:
            turns.append([])
        turns[-1].append(m)
    return turns


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]


class ConversationMemory:
    """What the model sees of a long conversation, kept under a token budget.

    Args:
        budget_tokens: the most tokens of conversation the model is sent per turn
            (summary, recalled statements, recent turns and the new message).
        summarize: fold old turns into an LLM-written summary (True), or drop them
            (False). ``None`` asks the LLM: ``getattr(llm, "writes_answers", True)``.
        count_tokens: a token counter; default the LLM's ``count_tokens`` if it has
            one, else :func:`estimate_tokens`.
        summary_share: the summary's share of the budget.
        recall_share: the recalled statements' share of the budget.
        scorer: ``scorer(query, sentences) -> scores`` for recall; default BM25
            over an index that grows with the archive.
    """

    def __init__(self, budget_tokens: int = 4000, *, summarize: bool | None = None,
                 count_tokens: Callable[[str], int] | None = None,
                 summary_share: float = 0.25, recall_share: float = 0.25,
                 scorer: Scorer | None = None) -> None:
        if budget_tokens < 64:
            raise SapientError(f"The memory budget must be at least 64 tokens, not "
                               f"{budget_tokens}; a model context is thousands of tokens.")
        if summary_share < 0 or recall_share < 0 or summary_share + recall_share >= 1:
            raise SapientError("summary_share and recall_share must be non-negative and add up "
                               "to less than 1 (the rest is for recent turns).")
        self.budget_tokens = budget_tokens
        self.summarize = summarize
        self.summary_share = summary_share
        self.recall_share = recall_share
        self.scorer = scorer
        self._index = BM25()
        self._count = count_tokens
        self.summary = ""
        self.turns: list[list[Message]] = []
        self.archive: list[tuple[int, str]] = []  # (turn number, sentence the user said)
        self.turn_count = 0  # turns seen, so archived sentences keep their turn number
        self.folded = 0  # turns folded out of the recent window so far
        self.last_context_tokens = 0

    # -- public API ----------------------------------------------------------------

    def add(self, messages: Iterable[Message]) -> None:
        """Record messages of the conversation (whole turns, in order)."""
        for turn in _split_turns(messages):
            if turn[0].role == "user" or not self.turns:
                self.turns.append(turn)
                self.turn_count += 1
            else:  # a turn's continuation (e.g. an answer added separately)
                self.turns[-1].extend(turn)

    def add_result(self, result: Any, sent: Sequence[Message] = ()) -> None:
        """Record a run's new messages: those of ``result.messages`` not in ``sent``."""
        seen = {id(m) for m in sent}
        self.add(m for m in result.messages if id(m) not in seen and m.role != "system")

    def messages(self) -> list[Message]:
        """The recent turns, verbatim (what is kept besides the summary and archive)."""
        return [m for turn in self.turns for m in turn]

    def context(self, prompt: str, llm: Any = None) -> list[Message]:
        """The history to send with ``prompt``: memory note + recent turns, in budget.

        May call ``llm`` (to summarise turns that no longer fit); a failing summary call
        falls back to trimming, so a flaky model never loses the conversation.
        """
        count = self._counter(llm)
        budget = self.budget_tokens
        prompt_tokens = count(prompt) + MESSAGE_OVERHEAD
        summary_cap = int(budget * self.summary_share)
        recall_cap = int(budget * self.recall_share)
        frame = count("\n\n".join([_HEAD.format(n=self.folded + self.turn_count + 1),
                                     _SUMMARY_LABEL, _RECALL_LABEL])) + MESSAGE_OVERHEAD
        space = max(0, budget - summary_cap - recall_cap - frame - prompt_tokens)
        if self._recent_tokens(count) > space:
            self._compact(space // 2, llm, count, summary_cap)
        free = budget - prompt_tokens - self._recent_tokens(count) - frame
        summary = self.summary if count(self.summary) <= free else ""
        free -= count(summary)
        recalled = self._recall(prompt, count, min(recall_cap, free))
        note = self._note(summary, recalled)
        history = ([note] if note is not None else []) + self.messages()
        self.last_context_tokens = prompt_tokens + sum(self._tokens(m, count) for m in history)
        return history

    # -- persistence -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The memory's state as JSON-ready data (for a session store)."""
        return {"version": 1, "summary": self.summary, "turn_count": self.turn_count,
                "folded": self.folded,
                "turns": [[_message_to_dict(m) for m in t] for t in self.turns],
                "archive": [list(a) for a in self.archive]}

    def load_dict(self, data: dict[str, Any]) -> ConversationMemory:
        """Restore state saved by :meth:`to_dict` (settings stay this object's)."""
        self.summary = str(data.get("summary", ""))
        self.turn_count = int(data.get("turn_count", 0))
        self.folded = int(data.get("folded", 0))
        self.turns = [[_message_from_dict(d) for d in t] for t in data.get("turns", [])]
        self.archive, self._index = [], BM25()
        for n, sentence in data.get("archive", []):
            self._archive(int(n), str(sentence))
        return self

    @classmethod
    def from_dict(cls, data: dict[str, Any], **settings: Any) -> ConversationMemory:
        """A memory with ``settings`` (as for the constructor) and saved state."""
        return cls(**settings).load_dict(data)

    # -- internals -------------------------------------------------------------------

    def _archive(self, turn: int, sentence: str) -> None:
        self.archive.append((turn, sentence))
        self._index.add(sentence)

    def _counter(self, llm: Any) -> Callable[[str], int]:
        if self._count is not None:
            return self._count
        native = getattr(llm, "count_tokens", None)
        return native if callable(native) else estimate_tokens

    @staticmethod
    def _tokens(m: Message, count: Callable[[str], int]) -> int:
        calls = sum(count(c.name) + count(c.arguments_json()) for c in m.tool_calls)
        return count(m.content or "") + calls + MESSAGE_OVERHEAD

    def _recent_tokens(self, count: Callable[[str], int]) -> int:
        return sum(self._tokens(m, count) for m in self.messages())

    def _compact(self, target: int, llm: Any, count: Callable[[str], int],
                 summary_cap: int) -> None:
        """Fold the oldest turns until the recent ones take at most ``target`` tokens.

        Folding to half the free space (not just under it) means the summary is
        rewritten once every several turns rather than on every turn.
        """
        sizes = [sum(self._tokens(m, count) for m in t) for t in self.turns]
        total, cut = sum(sizes), 0
        while cut < len(self.turns) and total > target:
            total -= sizes[cut]
            cut += 1
        old, self.turns = self.turns[:cut], self.turns[cut:]
        first = self.turn_count - len(self.turns) - cut + 1
        for offset, turn in enumerate(old):
            for m in turn:
                if m.role == "user" and m.content:
                    for sentence in _sentences(m.content):
                        self._archive(first + offset, sentence)
        self.folded += len(old)
        writes = self.summarize
        if writes is None:
            writes = bool(getattr(llm, "writes_answers", True)) and llm is not None
        if writes and old and summary_cap > 0:
            self._summarise(old, llm, count, summary_cap)

    def _summarise(self, turns: list[list[Message]], llm: Any,
                   count: Callable[[str], int], cap: int) -> None:
        """Fold ``turns`` into the summary in batches the model can read within budget."""
        limit = max(1, self.budget_tokens - cap)
        batch: list[str] = []
        size = 0
        for turn in turns:
            text = _clip("\n".join(_transcript(m) for m in turn), limit, count)
            tokens = count(text)
            if batch and size + tokens > limit:
                self._summary_call(batch, llm, count, cap)
                batch, size = [], 0
            batch.append(text)
            size += tokens
        if batch:
            self._summary_call(batch, llm, count, cap)

    def _summary_call(self, batch: list[str], llm: Any, count: Callable[[str], int],
                      cap: int) -> None:
        words = max(8, cap * 3 // 4)  # a word is about 4/3 tokens in English text
        request = [
            Message.system(SUMMARY_INSTRUCTIONS.format(words=words)),
            Message.user(f"Summary so far:\n{self.summary or '(none)'}\n\n"
                         "New part of the conversation:\n" + "\n\n".join(batch)),
        ]
        try:
            response = llm.complete(request, (), max_tokens=cap, temperature=0)
        except SapientError:
            return  # keep the old summary; the user's sentences are archived anyway
        text = (getattr(response, "text", None) or "").strip()
        if text:
            self.summary = _clip(text, cap, count)

    def _note(self, summary: str, recalled: list[tuple[int, str]]) -> Message | None:
        """The memory note: the summary and the recalled statements, as one system message."""
        parts = []
        if summary:
            parts.append(_SUMMARY_LABEL + summary)
        if recalled:
            parts.append(_RECALL_LABEL + "\n".join(_recall_line(n, s) for n, s in recalled))
        if not parts:
            return None
        return Message.system("\n\n".join([_HEAD.format(n=self.folded), *parts]))

    def _recall(self, prompt: str, count: Callable[[str], int],
                cap: int) -> list[tuple[int, str]]:
        """Archived sentences relevant to ``prompt``, best first until ``cap`` is full."""
        if not self.archive or cap <= 0:
            return []
        if self.scorer is not None:
            scores = self.scorer(prompt, [s for _, s in self.archive])
        else:
            scores = self._index.scores(prompt)
        best = max(scores, default=0.0)
        if best <= 0:
            return []
        ranked = sorted((i for i, s in enumerate(scores) if s >= best / 2),
                        key=lambda i: -scores[i])
        chosen, used = [], 0
        for i in ranked:
            n, sentence = self.archive[i]
            cost = count(_recall_line(n, sentence)) + 1  # and its line break
            if used + cost > cap:
                continue
            chosen.append(i)
            used += cost
        return [self.archive[i] for i in sorted(chosen)]


def _recall_line(turn: int, sentence: str) -> str:
    return f"- (turn {turn}) {sentence}"


def _clip(text: str, cap: int, count: Callable[[str], int]) -> str:
    """``text`` cut (at a word boundary where possible) to at most ``cap`` tokens."""
    if count(text) <= cap:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # the longest prefix within the cap
        mid = (lo + hi + 1) // 2
        if count(text[:mid] + " …") <= cap:
            lo = mid
        else:
            hi = mid - 1
    cut = text[:lo]
    space = cut.rfind(" ")
    return (cut[:space] if space > lo // 2 else cut) + " …"


def _transcript(m: Message) -> str:
    if m.role == "tool":
        return f"Tool result ({m.name or 'tool'}): {m.content or ''}"
    text = f"{m.role.capitalize()}: {m.content or ''}".rstrip()
    calls = "; ".join(f"{c.name}({c.arguments_json()})" for c in m.tool_calls)
    return f"{text} [called {calls}]" if calls else text
