"""Deposit's interest payment modes and their Spanish names: pure values, shared by its rules
(domain.py) and published to others by contracts.py (the module they import). No library is
imported here, so the domain stays pure.
"""

MATURITY = "maturity"
MONTHLY = "monthly"
PAYMENT_MODES = (MATURITY, MONTHLY)
PAYMENT_MODE_NAMES = {MATURITY: "Al vencimiento", MONTHLY: "Mensual"}
