"""``unchanged.digest``: equal answers over the same data, whatever time they were asked."""

from __future__ import annotations

from streamdash.sources.unchanged import digest


def _body(at: str, values: tuple[str, str] = ("0.5", "NaN"), pod: str = "a") -> bytes:
    return (
        '{"status":"success","data":{"resultType":"vector","result":['
        f'{{"metric":{{"pod":"{pod}"}},"value":[{at},"{values[0]}"]}},'
        f'{{"metric":{{"pod":"b","le":"+Inf"}},"value":[{at},"{values[1]}"]}}]}}}}'
    ).encode()


def test_same_rows_asked_at_other_times_are_equal() -> None:
    one = digest(_body("1764746862.123"), 1764746862.123)
    two = digest(_body("1764746863"), 1764746863.0)
    assert one is not None and one == two and len(one) == 16


def test_a_changed_value_or_label_is_not_equal() -> None:
    base = digest(_body("100.5"), 100.5)
    assert base != digest(_body("101.5", ("0.6", "NaN")), 101.5)
    assert base != digest(_body("101.5", pod="c"), 101.5)
    assert base != digest(_body("101.5", ("0.5", "1")), 101.5)


def test_a_label_value_that_looks_like_the_timestamp_stays() -> None:
    # the stamp inside a label value is not a sample's "[<time>,\"" token: it is kept
    one = digest(_body("100", pod="[100,"), 100.0)
    two = digest(_body("101", pod="[100,"), 101.0)
    three = digest(_body("101", pod="[101,"), 101.0)
    assert one == two != three


def test_odd_answers_are_never_equal() -> None:
    assert digest(_body("not-a-number"), 100.0) is None
    assert digest(_body("5000"), 100.0) is None  # not the time asked: another answer
    assert digest(b'{"data":{"result":[{"value":[', 0.0) is None
    empty = b'{"status":"success","data":{"resultType":"vector","result":[]}}'
    assert digest(empty, 1.0) == digest(empty, 2.0) is not None
