"""The word filter's normaliser and matcher (chat/rules/textmatch.py), table-driven."""
from __future__ import annotations

import pytest

from chat.rules.textmatch import Matcher, collapse, normalise_term

NORMALISE = [
    ("plain", "Bad", "bad"),
    ("fullwidth (NFKC)", "ｂａｄ", "bad"),
    ("mathematical bold (NFKC)", "𝐛𝐚𝐝", "bad"),
    ("case folding", "BAD", "bad"),
    ("sharp s folds to ss", "Maß", "mass"),
    ("accents removed", "bád", "bad"),
    ("zero-width space removed", "b\u200bad", "bad"),
    ("zero-width joiner removed", "b\u200da\u200dd", "bad"),
    ("soft hyphen removed", "b\u00adad", "bad"),
    ("at sign", "b@d", "bad"),
    ("four", "b4d", "bad"),
    ("zero", "f00l", "fooi"),
    ("one is i and l", "1d10t", "idiot"),
    ("l and i are one letter", "Lil", "iii"),
    ("dollar", "a$$", "ass"),
    ("five, seven, three", "5h173", "shite"),
    ("bang and pipe inside words, punctuation outside", "sh!t k|ll!", "shitkiii"),
    ("dots inside a word", "b.a.d", "bad"),
    ("hyphens inside a word", "b-a-d", "bad"),
    ("spaces inside a word", "b a d", "bad"),
    ("emoji as separators", "b😀a😀d", "bad"),
    ("Cyrillic look-alikes", "bаd", "bad"),
    ("Khmer kept with its vowel signs", "អាក្រក់", "អាក្រក់"),
    ("Khmer with a zero-width space", "អា\u200bក្រក់", "អាក្រក់"),
    ("Thai kept with its marks", "ควาย", "ควาย"),
    ("Thai with spaces inside", "คว าย", "ควาย"),
    ("CJK", "笨蛋", "笨蛋"),
]


@pytest.mark.parametrize("why,text,expected", NORMALISE, ids=[n[0] for n in NORMALISE])
def test_normalisation(why: str, text: str, expected: str) -> None:
    assert collapse(text).text == expected
    assert normalise_term(text) == expected


LISTS = [["ass", "bad", "shit", "idiot"], ["អាក្រក់"], ["ควาย"], ["笨蛋"], ["kill yourself"]]

MATCH = [
    # (why, text, lists matched)
    ("whole word", "you are bad", {0}),
    ("spaced letters", "you are b a d", {0}),
    ("dotted letters", "you are b.a.d!", {0}),
    ("substitutions", "you are b@d", {0}),
    ("accents and zero-width", "you are b\u200bád", {0}),
    ("fullwidth", "ｉｄｉｏｔ", {0}),
    ("digits for letters", "1d10t", {0}),
    ("punctuation joins pieces", "sh.it happens", {0}),
    ("a phrase term", "go kill yourself", {4}),
    ("a phrase term without its space", "killyourself", {4}),
    ("Khmer inside a sentence", "ឯងជាមនុស្សអាក្រក់ណាស់", {1}),
    ("Khmer split by a zero-width space", "ឯង\u200bអាក\u200bរក់", set()),
    ("Khmer split by a zero-width space inside", "ឯងអា\u200bក្រក់", {1}),
    ("Thai inside a sentence", "ไอ้ควายเอ๊ย", {2}),
    ("Thai with spaces inside the word", "ไอ้ คว าย", {2}),
    ("CJK inside a sentence", "你是笨蛋吗", {3}),
    ("several lists", "bad ควาย", {0, 2}),
    # Scunthorpe-style: a term inside a longer word of a spaced script is not matched
    ("class", "the class is over", set()),
    ("passport", "my passport", set()),
    ("assistant", "the assistant teacher", set()),
    ("badminton", "badminton after school", set()),
    ("Scunthorpe", "we went to Scunthorpe", set()),
    ("shitake is not split", "shiitake mushrooms", set()),
    ("pieces of more than one letter across a space", "Sh, it's fine", set()),
    ("a word ending another", "embassy", set()),
    ("words across a space", "glass sandwich", set()),
    ("nothing", "hello", set()),
    ("empty", "", set()),
]


@pytest.mark.parametrize("why,text,expected", MATCH, ids=[m[0] for m in MATCH])
def test_matching(why: str, text: str, expected: set) -> None:
    assert Matcher(LISTS).lists_in(text) == expected


def test_no_terms_match_nothing() -> None:
    assert Matcher([]).lists_in("anything") == set()
    assert Matcher([["..."]]).lists_in("...") == set()  # a term without letters matches nothing
    assert Matcher([["bad"], ["BAD"]]).lists_in("b a d") == {0, 1}
