"""The amount in words of a transfer receipt (services/reports/domain.py): the dollars in
Spanish words, the cents as `con NN/100`, as an Ecuadorian receipt writes them."""

import pytest

from services.reports.domain import amount_words


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("1234.56", "MIL DOSCIENTOS TREINTA Y CUATRO DÓLARES CON 56/100"),
        ("1500.00", "MIL QUINIENTOS DÓLARES CON 00/100"),
        ("1.00", "UN DÓLAR CON 00/100"),
        ("21.05", "VEINTIÚN DÓLARES CON 05/100"),
        ("101.10", "CIENTO UN DÓLARES CON 10/100"),
        ("1000000.00", "UN MILLÓN DE DÓLARES CON 00/100"),
        ("0.99", "CERO DÓLARES CON 99/100"),
    ],
)
def test_an_amount_in_words_as_a_receipt_says_it(amount, words):
    assert amount_words(amount) == words
