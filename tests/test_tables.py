"""The one cell format every results table uses (dsn-report, the tap table, the Magnetic Tile table)."""

from dsn.utils.tables import markdown_table, mean_std


def test_mean_std_gives_the_sample_spread_to_one_decimal():
    assert mean_std([98.9, 98.0, 99.5]) == "98.8 ± 0.8"  # sample std (n - 1), as the tables state


def test_one_value_is_labelled_not_given_a_spread():
    assert mean_std([77.14]) == "77.1 (1 run)"
    assert mean_std([99.7], unit="seed", note=", T=8") == "99.7 (1 seed, T=8)"


def test_counted_cells_name_how_many_went_in():
    assert mean_std([1.0, 2.0], unit="seed", counted=True) == "1.5 ± 0.7 (2 seeds)"


def test_no_values_is_a_dash_not_an_error():
    assert mean_std([]) == "—"


def test_markdown_table_has_header_separator_and_rows():
    assert markdown_table(["a", "b"], [[1, None]]) == "| a | b |\n| --- | --- |\n| 1 |  |\n"
