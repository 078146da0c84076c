"""The terms table: one id per distinct entry, kept while named, redefined only to terms no id has."""

from __future__ import annotations

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.layer2.order_terms import TermsTable

A, B, C = b'{"a":1}', b'{"b":2}', b'{"c":3}'


def test_alike_entries_share_one_id_until_no_claim_names_it() -> None:
    table = TermsTable()
    first = table.ident(A)
    table.use([first, table.ident(A)])
    assert table.ident(A) == first and table.uses(first) == 2
    table.release([first])
    assert table.encoded() == b"{" + first + b":" + A + b"}", "one claim still names it"
    table.release([first])
    assert len(table) == 0 and table.ident(A) != first, "forgotten, and ids are never given twice"


@pytest.mark.parametrize(
    ("new_entry", "redefined", "a_after", "named_by"),
    [
        pytest.param(C, True, C, "a", id="terms no id has: the id takes them"),
        pytest.param(A, False, A, "a", id="its own terms: nothing moved"),
        pytest.param(B, False, A, "b", id="another id's terms: its claims must name that id"),
    ],
)
def test_redefine_gives_an_id_new_terms_only_when_no_id_has_them(
    new_entry: bytes, redefined: bool, a_after: bytes, named_by: str
) -> None:
    table = TermsTable()
    ids = {"a": table.ident(A), "b": table.ident(B)}
    table.use(ids.values())
    assert table.redefine(ids["a"], new_entry) is redefined
    assert table.entry(ids["a"]) == a_after
    assert table.entry(ids["b"]) == B, "the other id keeps its terms"
    assert table.ident(new_entry) == ids[named_by], "one id per entry"
