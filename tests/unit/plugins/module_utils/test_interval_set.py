from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.baremetal.lb.plugins.module_utils.interval_set import IntervalSet


def test_runs_merge_and_split():
    s = IntervalSet()
    for value in (1, 3, 2, 5):
        assert s.add(value)
    assert not s.add(2)
    assert len(s) == 4
    assert s.lowest_absent(1, 10) == 4
    assert s.discard(2)
    assert not s.discard(2)
    assert s.lowest_absent(1, 10) == 2
    assert s.lowest_absent(3, 3) is None
    assert 3 in s and 2 not in s and "3" not in s


def test_lowest_absent_is_fast_on_a_long_run():
    s = IntervalSet()
    for value in range(100_000):
        s.add(value)
    assert s.lowest_absent(0, 2**64) == 100_000
    assert s.lowest_absent(0, 99_999) is None


operations = st.lists(st.tuples(st.booleans(), st.integers(0, 40)), max_size=200)


@given(operations, st.integers(0, 40), st.integers(0, 40))
def test_matches_a_plain_set(ops, low, high):
    s, model = IntervalSet(), set()
    for adding, value in ops:
        if adding:
            assert s.add(value) == (value not in model)
            model.add(value)
        else:
            assert s.discard(value) == (value in model)
            model.discard(value)
        assert len(s) == len(model)
    expected = next((v for v in range(low, high + 1) if v not in model), None)
    assert s.lowest_absent(low, high) == expected
    assert all((v in s) == (v in model) for v in range(42))
