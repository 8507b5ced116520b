from app import calc


def test_average():
    assert calc.average([1, 2, 3]) == 2


def test_first():
    assert calc.first([4, 5]) == 4


def test_parse_int():
    assert calc.parse_int("42") == 42


def test_lookup():
    assert calc.lookup({"a": 1}, "a") == 1


def test_total():
    assert calc.total([1, 2, 3]) == 6
