import pytest

from ingest.cn_numbers import cn_to_int, int_to_cn


@pytest.mark.parametrize(
    "text,value",
    [("一", 1), ("十", 10), ("十一", 11), ("二十", 20), ("一百", 100), ("一百零一", 101),
     ("一百一十", 110), ("一百二十三", 123), ("一千零五", 1005), ("一千二百六十", 1260),
     ("两千", 2000), ("一万零一", 10001), ("123", 123), ("１２", 12)],
)
def test_cn_to_int(text, value):
    assert cn_to_int(text) == value


@pytest.mark.parametrize("value", [1, 9, 10, 11, 19, 20, 99, 100, 101, 110, 111, 120, 999, 1000, 1001,
                                   1010, 1100, 1260, 9999, 10000, 10001, 12345])
def test_round_trip(value):
    assert cn_to_int(int_to_cn(value)) == value


def test_statute_forms():
    assert int_to_cn(10) == "十"
    assert int_to_cn(110) == "一百一十"
    assert int_to_cn(1005) == "一千零五"


def test_rejects_non_numerals():
    with pytest.raises(ValueError, match="条"):
        cn_to_int("十条")
