from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from amends.kit import codes

prefixes = st.sampled_from(["", "A", "AMZ", "7K9"])
seeds = st.integers(min_value=0, max_value=2**32)


def _code(seed: int, prefix: str) -> str:
    import random

    # `generate` draws from `secrets`; for reproducible examples, build bodies the same way.
    rng = random.Random(seed)
    while True:
        body = prefix + "".join(rng.choice(codes.ALPHABET) for _ in range(codes.RANDOM_LENGTH))
        check = codes._check_value(body)
        if check < len(codes.CHECK_ALPHABET):
            return body + codes.CHECK_ALPHABET[check]


def test_generated_codes_are_long_random_and_valid() -> None:
    batch = {codes.generate() for _ in range(2000)}
    assert len(batch) == 2000
    for code in batch:
        assert codes.is_valid(code)
        assert len(code) == codes.RANDOM_LENGTH + 1
        assert not set(code[:-1]) & set("ILOU")
    # 14 characters of a 32-letter alphabet: 70 bits, above the 60 asked for
    assert codes.RANDOM_LENGTH * 5 >= 60


def test_case_references_are_readable_and_use_the_whole_alphabet() -> None:
    """Every character of a reference is uniform over the 32 letters (each of the 60 random
    bits is used): across 3,200 references each position shows every letter."""
    batch = [codes.random_reference("C-") for _ in range(3200)]
    assert len(set(batch)) == len(batch)
    for reference in batch:
        assert reference.startswith("C-")
        assert len(reference) == 14
        assert not set(reference[2:]) & set("ILOU")
    for position in range(2, 14):
        assert {r[position] for r in batch} == set(codes.ALPHABET)


@given(seed=seeds, prefix=prefixes)
def test_display_form_round_trips(seed: int, prefix: str) -> None:
    code = _code(seed, prefix)
    shown = codes.display(code, prefix)
    assert "-" in shown
    assert codes.normalise(shown) == code
    assert codes.is_valid(codes.normalise(shown))


@given(seed=seeds, data=st.data())
def test_normalisation_forgives_case_separators_and_look_alikes(seed: int,
                                                                data: st.DataObject) -> None:
    code = _code(seed, "")
    typed = []
    for ch in codes.display(code):
        if ch == "0":
            ch = data.draw(st.sampled_from(["0", "O", "o"]))
        elif ch == "1":
            ch = data.draw(st.sampled_from(["1", "I", "i", "L", "l"]))
        elif ch.isalpha():
            ch = data.draw(st.sampled_from([ch, ch.lower()]))
        elif ch == "-":
            ch = data.draw(st.sampled_from(["-", " ", "", " - "]))
        typed.append(ch)
    assert codes.normalise("".join(typed)) == code


@settings(max_examples=200)
@given(seed=seeds, prefix=prefixes)
def test_every_single_character_change_is_caught(seed: int, prefix: str) -> None:
    code = _code(seed, prefix)
    for position in range(len(code)):
        for replacement in codes.CHECK_ALPHABET:
            if replacement == code[position]:
                continue
            typo = code[:position] + replacement + code[position + 1:]
            assert not codes.is_valid(typo), (code, typo)


@settings(max_examples=300)
@given(seed=seeds, prefix=prefixes)
def test_every_adjacent_swap_is_caught(seed: int, prefix: str) -> None:
    code = _code(seed, prefix)
    for position in range(len(code) - 1):
        a, b = code[position], code[position + 1]
        if a == b:
            continue
        swapped = code[:position] + b + a + code[position + 2:]
        assert not codes.is_valid(swapped), (code, swapped)


def test_text_outside_the_alphabet_is_not_a_code() -> None:
    for text in ("", "A", "!!!!", "ÄÖÜ-1234", "7KQ4U-M2XD9"):
        assert not codes.is_valid(codes.normalise(text))
