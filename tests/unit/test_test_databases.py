"""The per-test PostgreSQL database names (tests/conftest.py): distinct for the parameters of
one long-named test, within PostgreSQL's 63 bytes, plain identifiers."""

from tests.conftest import database_name


def test_a_short_name_is_the_test_name_itself():
    assert database_name("test_verify[3]") == "t_test_verify_3_"


def test_the_parameters_of_a_long_named_test_get_databases_of_their_own():
    long = "test_deleted_rows_are_a_gap_whether_or_not_the_dispute_was_seen_before"
    names = {database_name(f"{long}[{p}]") for p in ("deleted0", "deleted1", "deleted2")}
    assert len(names) == 3
    assert all(len(n) <= 63 and n.isascii() and n.replace("_", "").isalnum() for n in names)
    assert all(n.startswith("t_test_deleted_rows_are_a_gap_whether_or_n") for n in names)
