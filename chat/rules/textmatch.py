"""The word filter's text matching: a normaliser and a multi-pattern matcher (pure, no I/O).

What students do to get a word past a filter, and what undoes it:

- look-alike forms (fullwidth ``ｂａｄ``, mathematical ``𝐛𝐚𝐝``, ligatures): Unicode NFKC;
- capitals (and ``ß``): case folding;
- accents and invisible characters (``bád``, ``b\\u200bad``, soft hyphens, bidi controls):
  combining marks and format characters (Unicode ``Mn``/``Me``/``Cf``) are removed, except the
  vowel signs of Thai, Lao, Myanmar and Khmer, which are letters of those scripts;
- digits and symbols for letters (:data:`SUBSTITUTIONS`): ``@ 4``→a, ``0``→o, ``3``→e,
  ``$ 5``→s, ``7``→t, ``8``→b, and a few Cyrillic and Greek look-alikes of Latin letters.
  ``1`` (and ``!`` or ``|`` between letters: ``sh!t``; elsewhere they are punctuation) may
  stand for i or l, so ``i`` and ``l`` are one letter for the filter (terms too): words that
  differ only there match each other, a small loss of precision;
- separators inside a word (``b.a.d``, ``b-a-d``, ``b a d``): the text is matched in a
  *collapsed* form with every separator (white space, punctuation, symbols, emoji) removed,
  keeping where each word piece starts. A match in a spaced script must start and end where
  pieces do (whole words: ``class`` never matches ``ass``), and may cross white space only
  when every piece it covers is a single character (``b a d``; so ``Sh, it's`` is not
  ``shit``); punctuation alone (``sh.it``, ``b-a-d``) may join pieces of any length, and a
  term of several words (``kill yourself``) matches across any white space.

Terms written in a script without spaces between words (Thai, Lao, Myanmar, Khmer, CJK,
kana: :func:`unspaced`) match as substrings of the collapsed text; the change from such a
script to another one counts as a word edge for the others.

Repeated letters (``baaad``) are not undone: collapsing them would make ``ass`` the word
``as``. The cost is one pass over the text whatever the number of terms (an Aho-Corasick
automaton, pyahocorasick).
"""
from __future__ import annotations

import bisect
import functools
import itertools
import re
import unicodedata
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

import ahocorasick

#: character → the letter it stands for (applied after case folding)
SUBSTITUTIONS: Dict[str, str] = {
    "@": "a", "4": "a", "0": "o", "3": "e", "$": "s", "5": "s", "7": "t", "8": "b",
    "1": "i", "l": "i",
    # Cyrillic and Greek letters drawn like Latin ones (terms written in those alphabets are
    # mapped alike, so they still match themselves)
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "к": "k",
    "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ν": "v", "ο": "o", "α": "a", "ι": "i", "κ": "k",
    "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ε": "e",
}

#: blocks of scripts written without spaces between words: a term in them matches as a substring
UNSPACED_RANGES: Tuple[Tuple[int, int], ...] = (
    (0x0E00, 0x0E7F),    # Thai
    (0x0E80, 0x0EFF),    # Lao
    (0x1000, 0x109F),    # Myanmar
    (0x1780, 0x17FF),    # Khmer
    (0x19E0, 0x19FF),    # Khmer symbols
    (0x3040, 0x30FF),    # Hiragana, Katakana
    (0x3100, 0x312F),    # Bopomofo
    (0x31F0, 0x31FF),    # Katakana phonetic extensions
    (0x3400, 0x4DBF),    # CJK extension A
    (0x4E00, 0x9FFF),    # CJK unified ideographs
    (0xA9E0, 0xA9FF),    # Myanmar extended-B
    (0xAA60, 0xAA7F),    # Myanmar extended-A
    (0xF900, 0xFAFF),    # CJK compatibility ideographs
    (0x20000, 0x3134F),  # CJK extensions B-G
)

_UNSPACED_CLASS = "".join("%s-%s" % (chr(a), chr(b)) for a, b in UNSPACED_RANGES)
#: what separates word pieces of the translated text: a run of separators, or the change between
#: an unspaced script and another
_SPLIT = re.compile("([ .]+|(?<=[{u}])(?=[^ .{u}])|(?<=[^ .{u}])(?=[{u}]))".format(u=_UNSPACED_CLASS))
_SPLIT_ASCII = re.compile("([ .]+)")
_WS = " "   # what every white-space character becomes
_SEP = "."  # what every other separator becomes


def unspaced(char: str) -> bool:
    """Whether the character belongs to a script written without spaces between words."""
    code = ord(char)
    return any(a <= code <= b for a, b in UNSPACED_RANGES)


@functools.lru_cache(maxsize=1)
def _table() -> Dict[int, Optional[str]]:
    """The one ``str.translate`` table: marks and format characters removed (but the
    unspaced scripts' own), separators to ``" "``/``"."``, substitutions applied. Built once,
    over every assigned code point."""
    table: Dict[int, Optional[str]] = {}
    # planes 0-3 and 14 (tags, variation selectors) hold every assigned non-private character
    for code in itertools.chain(range(0x32400), range(0xE0000, 0xE1000)):
        if 0xD800 <= code <= 0xDFFF or 0xE000 <= code <= 0xF8FF:
            continue  # surrogates and private use: left as they are
        char = chr(code)
        category = unicodedata.category(char)
        if category in ("Mn", "Me"):
            if not unspaced(char):
                table[code] = None
        elif category == "Cf":
            table[code] = None
        elif char.isspace() or category[0] == "Z" or category == "Cc":
            table[code] = _WS
        elif category[0] in "PS":
            table[code] = _SEP
    for src, dst in SUBSTITUTIONS.items():
        table[ord(src)] = dst
    for mark in _INNER_MARKS:
        table[ord(mark)] = mark  # an i inside a word, punctuation elsewhere (see _inner)
    return table


@functools.lru_cache(maxsize=1)
def _ascii_table() -> Dict[int, Optional[str]]:
    """The table's ASCII part (most messages: no decomposition needed)."""
    full = _table()
    return {code: full[code] for code in range(128) if code in full}


#: punctuation that is the letter i between letters (``sh!t``, ``k|ll``) and punctuation elsewhere
_INNER_MARKS = "!|"
_INNER = re.compile(r"(?<=[^ .!|])[!|]+(?=[^ .!|])")


def _inner(translated: str) -> str:
    if "!" not in translated and "|" not in translated:
        return translated
    translated = _INNER.sub(lambda m: "i" * len(m.group()), translated)
    return translated.replace("!", _SEP).replace("|", _SEP)


def translate(text: str) -> str:
    """The text with its look-alikes undone: NFKC, case folding, marks and format characters
    removed, separators made ``" "`` (white space) or ``"."`` (the rest), substitutions applied.
    Same length or shorter than its NFKC/NFD form; no I/O."""
    if text.isascii():
        return _inner(text.lower().translate(_ascii_table()))
    folded = unicodedata.normalize("NFKC", text).casefold()
    # decomposed so that accents are marks to remove (``é`` → ``e``), then composed again so
    # that what is left (Thai, Khmer, Hangul) compares in one form
    return _inner(unicodedata.normalize("NFC", unicodedata.normalize("NFD", folded).translate(_table())))


class Collapsed:
    """A text without its separators, knowing where each piece started and after what (worked
    out only when a match needs it: most texts match nothing)."""

    __slots__ = ("translated", "text", "_starts", "_gaps")

    def __init__(self, translated: str) -> None:
        self.translated = translated
        self.text = translated.replace(_WS, "").replace(_SEP, "")
        self._starts: List[int] = []
        self._gaps: List[str] = []

    def _pieces(self) -> None:
        # split in C: pieces and the separator runs between them ("" where the script changes)
        text = self.translated.strip(_WS + _SEP)
        parts = (_SPLIT_ASCII if text.isascii() else _SPLIT).split(text)
        self._starts = [0]
        self._starts.extend(itertools.accumulate(map(len, parts[0::2])))
        self._gaps = [""]
        self._gaps.extend(parts[1::2])

    @property
    def starts(self) -> List[int]:
        """Ascending offsets in ``text`` where a piece starts, and ``len(text)``."""
        if not self._starts:
            self._pieces()
        return self._starts

    def spaced(self, piece: int) -> bool:
        """Whether white space came before that piece."""
        if not self._starts:
            self._pieces()
        return _WS in self._gaps[piece]

    def whole(self, start: int, end: int, phrase: bool = False) -> bool:
        """Whether ``text[start:end]`` is made of whole pieces and crosses white space only
        between single characters (anywhere: ``phrase``, a term of several words)."""
        starts = self.starts
        i = bisect.bisect_left(starts, start)
        if i >= len(starts) or starts[i] != start:
            return False
        j = bisect.bisect_left(starts, end, i)
        if j >= len(starts) or starts[j] != end:
            return False
        if j - i <= 1 or phrase or not any(self.spaced(k) for k in range(i + 1, j)):
            return True  # one piece, or joined by punctuation only (b.a.d, sh.it)
        return all(starts[k + 1] - starts[k] == 1 for k in range(i, j))


def collapse(text: str) -> Collapsed:
    """The text's collapsed form (see the module doc)."""
    return Collapsed(translate(text))


def normalise_term(term: str) -> str:
    """A term as the matcher compares it: translated, separators removed ("" when nothing is
    left: such a term cannot match anything)."""
    return collapse(term).text


def is_unspaced_term(normalised: str) -> bool:
    """Whether a (normalised) term is matched as a substring (it has unspaced-script letters)."""
    return any(unspaced(c) for c in normalised)


class Matcher:
    """The terms of several lists in one automaton: :meth:`lists_in` answers which lists a text
    matches, in one pass over the text."""

    def __init__(self, lists: Sequence[Iterable[str]]) -> None:
        """``lists``: each list's terms, in the lists' order (their positions are what
        :meth:`lists_in` answers)."""
        entries: Dict[str, List[int]] = {}
        phrases: Set[str] = set()  # terms of several words: they match across white space
        for index, terms in enumerate(lists):
            for term in terms:
                key = normalise_term(term)
                if len(term.split()) > 1:
                    phrases.add(key)
                if key:
                    owners = entries.setdefault(key, [])
                    if index not in owners:
                        owners.append(index)
        self.size = len(entries)
        self._automaton: Optional[ahocorasick.Automaton] = None
        if entries:
            automaton = ahocorasick.Automaton()
            for key, owners in entries.items():
                automaton.add_word(key, (len(key), is_unspaced_term(key), key in phrases, tuple(owners)))
            automaton.make_automaton()
            self._automaton = automaton

    def lists_in(self, text: str) -> Set[int]:
        """The positions of the lists with a term in ``text``."""
        if self._automaton is None or not text:
            return set()
        collapsed = collapse(text)
        found: Set[int] = set()
        for end, (length, substring, phrase, owners) in self._automaton.iter(collapsed.text):
            if substring or collapsed.whole(end + 1 - length, end + 1, phrase):
                found.update(owners)
        return found
