"""Plain-text helpers for composing answers: sentences, content terms, question types.

Rule-based on purpose: they must work offline, in any process, in microseconds. Word
stems come from PyStemmer (Snowball, already a retrieval dependency) when it is
installed, so "logging" meets "logs"; without it words are compared as written.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["split_sentences", "terms", "question_type", "has_answer_type", "words", "unstated"]

_ABBREV = {"e.g", "i.e", "etc", "vs", "dr", "mr", "mrs", "ms", "st", "no", "fig", "approx",
           "inc", "ltd", "co", "corp", "jr", "sr", "u.s", "u.k", "ca", "c"}
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_WORD = re.compile(r"[A-Za-z0-9]+(?:[.,'][A-Za-z0-9]+)*")

#: Function words that say nothing about what a sentence is about.
STOPWORDS = frozenset((
    "a", "an", "the", "and", "or", "but", "if", "then", "than", "of", "to", "in", "on", "at",
    "by", "for", "with", "from", "into", "onto", "about", "as", "is", "are", "was", "were", "be",
    "been", "being", "am", "do", "does", "did", "done", "have", "has", "had", "having", "it",
    "its", "this", "that", "these", "those", "there", "their", "they", "them", "he", "she", "his",
    "her", "him", "we", "us", "our", "you", "your", "i", "me", "my", "what", "which", "who",
    "whom", "whose", "when", "where", "why", "how", "whether", "not", "no", "nor", "so", "such",
    "can", "could", "would", "should", "will", "shall", "may", "might", "must", "also", "just",
    "only", "very", "more", "most", "much", "many", "some", "any", "each", "every", "all", "both",
    "other", "another", "own", "same", "too", "up", "down", "out", "over", "under", "again",
    "further", "once", "here", "s", "t", "d", "ll", "m", "o", "re", "ve", "y", "ever", "doing",
    "one",
))


_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
_ITEM = re.compile(r"^\s*(?:[-*•+]|\d+[.)]|\|)\s*")


def _lines(text: str, headings: bool) -> list[str]:
    """Logical lines: list items and headings start one, blank lines end one, and a
    line wrapped inside a sentence is joined to the next ("keeps\nlogging for 36
    hours"): when the next line starts in lower case or with "(", or this one ends in
    a comma or a function word. Headings are dropped unless ``headings``."""
    out: list[str] = []
    joinable = False
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            joinable = False
            continue
        if _HEADING.match(raw):
            if headings:
                out.append(_HEADING.sub("", raw).strip())
            joinable = False
            continue
        item = _ITEM.match(raw)
        last = out[-1].rsplit(None, 1)[-1].lower() if out else ""
        if joinable and not item and (line[0].islower() or line[0] in "(,;:" or last in STOPWORDS
                                      or out[-1].endswith((",", ";", "(", "–", "—"))):
            out[-1] += " " + line
        else:
            out.append(_ITEM.sub("", raw).strip() if item else line)
        joinable = True
    return [line for line in out if line]


def split_sentences(text: str, headings: bool = True) -> list[str]:
    """Sentences of a passage; list items and headings are sentences of their own, and
    lines wrapped inside a sentence are joined. ``headings=False`` leaves headings out
    (a title names what follows; it is not a statement that can answer anything)."""
    out: list[str] = []
    for line in _lines(text, headings):
        start = 0
        for m in _BOUNDARY.finditer(line):
            before = line[start:m.start()].rstrip("\"')]").rsplit(None, 1)
            last = before[-1].rstrip(".").lower() if before else ""
            if last in _ABBREV or (len(last) == 1 and last.isalpha()):
                continue
            out.append(line[start:m.start()].strip())
            start = m.end()
        out.append(line[start:].strip())
    return [s for s in out if s]


def words(text: str) -> list[str]:
    """Word tokens as written (numbers keep their inner dots and commas)."""
    return _WORD.findall(text)


@lru_cache(maxsize=1)
def _stemmer() -> object | None:
    try:
        import Stemmer  # PyStemmer
    except ImportError:
        return None
    return Stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    stemmer = _stemmer()
    return stemmer.stemWord(word) if stemmer is not None else word  # type: ignore[attr-defined]


def terms(text: str) -> list[str]:
    """Content terms: lower-cased, stemmed words that are not function words."""
    return [_stem(w) for w in (t.lower().replace(",", "") for t in words(text))
            if w not in STOPWORDS]


# -- question types -----------------------------------------------------------------

_TYPES = (
    ("duration", r"\bhow long\b|\bfor how (?:many|much) (?:time|hours|days|years)\b"),
    ("number", r"\bhow (?:many|much|large|big|high|far|old|often)\b|\bwhat (?:percentage|"
               r"percent|proportion|number|amount)\b|\bwhat is the (?:number|amount|size)\b"),
    ("time", r"\bwhen\b|\bwhat (?:year|years|century|date|day|month|time|decade|era|period)\b"
             r"|\bwhich (?:year|century|date|day|month|decade)\b|\bin what (?:year|century)\b"),
    ("person", r"\bwho\b|\bwhom\b|\bwhose\b"),
    ("place", r"\bwhere\b|\bwhat (?:country|city|region|place|state|town|continent)\b"
              r"|\bwhich (?:country|city|region|place|state|town|continent)\b"),
)

_UNITS = (r"(?:second|minute|hour|day|night|week|month|year|decade|centur(?:y|ies)|"
          r"millenni(?:um|a)|ms|millisecond|h|hrs?|min|mins|yrs?)s?")
_NUMBER_WORDS = (r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                 r"twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen|"
                 r"several|half)")
_MONTHS = (r"(?:January|February|March|April|May|June|July|August|September|October|"
           r"November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)")
_PATTERNS = {
    "duration": re.compile(rf"(?:\d[\d.,]*|\b{_NUMBER_WORDS})[\s-]*{_UNITS}\b", re.I),
    "number": re.compile(rf"\d|\b{_NUMBER_WORDS}\b", re.I),
    "time": re.compile(rf"\b\d{{3,4}}s?\b|\b\d{{1,2}}(?:st|nd|rd|th)\b|\b{_MONTHS}\b|"
                       r"\b\d{1,2}:\d{2}\b|\bcentur(?:y|ies)\b|\b(?:BC|AD|BCE|CE)\b|"
                       r"\b(?:today|yesterday|daily|weekly|annually)\b"),
    "person": re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-zA-Z'’-]+"),
    "place": re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-zA-Z'’-]+"),
}


def question_type(question: str) -> str:
    """``duration``, ``number``, ``time``, ``person``, ``place`` or ``other``."""
    q = question.lower()
    for name, pattern in _TYPES:
        if re.search(pattern, q):
            return name
    return "other"


def has_answer_type(sentence: str, qtype: str, question: str) -> bool:
    """Whether ``sentence`` holds something of the kind the question asks for that the
    question does not already say (a duration for "how long", a name for "who"...)."""
    asked = {w.lower() for w in words(question)}
    if qtype == "other":
        return any(t not in set(terms(question)) for t in terms(sentence))
    pattern = _PATTERNS[qtype]
    return any(m.group(0).lower() not in asked for m in pattern.finditer(sentence))


# -- what the evidence must state -------------------------------------------------------

_NEGATION = re.compile(r"\b(?:not|never|no|none|nor|without|cannot)\b|n['’]t\b", re.I)
_SENTENCE_START = re.compile(r"(?:^|[.!?:]\s+)[\"'(\[]?$")


def unstated(question: str, sentence: str, passage: str) -> str | None:
    """What the question states that the evidence does not, or None.

    A sentence answers a question only about what the question is about. Three things
    do not paraphrase, so their absence is telling: a number the question gives (a
    year, a count) that the sentence's passage never mentions, a name (a capitalised
    word inside the question) that the passage never mentions (compared stemmed, so
    "Normans" meets "Norman"), and a negation ("which did *not*...") where the sentence
    states none, so it can only answer the positive question. Questions written to
    look answerable change exactly these (SQuAD 2.0's entity swaps, changed dates and
    added negations: the kinds of unanswerable question its authors describe). On its
    two dev articles, of the questions the search finds passages for, the three checks
    fire on 119 of 311 unanswerable questions and on 14 of 281 answerable ones
    (``benchmarks/grounded_qa.py``). Returns the reason, e.g. ``"'Frankish'"``.
    """
    said = {w.lower() for w in words(passage)}
    for w in words(question):
        if any(ch.isdigit() for ch in w) and w.lower() not in said:
            return f"the number {w}" if w[0].isdigit() else f"'{w}'"
    stems = {_stem(w) for w in said}
    for m in _WORD.finditer(question):
        name, low = m.group(0), m.group(0).lower()
        if not name[0].isupper() or _SENTENCE_START.search(question[:m.start()]):
            continue
        if low not in STOPWORDS and _stem(low) not in stems:
            return f"'{name}'"
    if _NEGATION.search(question) and not _NEGATION.search(sentence):
        return "the negation"
    return None
