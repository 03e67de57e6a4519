"""Credit's codes and their Spanish names: pure values, shared by its rules (domain.py) and
published to others by contracts.py (the module they import). No library is imported here, so
the domain stays pure.
"""

FREQUENCIES = {"monthly": 1, "bimonthly": 2, "quarterly": 3, "semiannual": 6}  # months a period
FREQUENCY_NAMES = {
    "monthly": "Mensual",
    "bimonthly": "Bimestral",
    "quarterly": "Trimestral",
    "semiannual": "Semestral",
}
SYSTEMS = ("french", "german")
SYSTEM_NAMES = {"french": "Francés (cuota fija)", "german": "Alemán (capital fijo)"}
MAX_GUARANTORS = 3

# an application's status: ingresada → en_analisis → aprobada | negada → desembolsada; the
# member may withdraw it (desistida) while it is ingresada or en_analisis
SUBMITTED, IN_ANALYSIS, APPROVED, DENIED, DISBURSED, WITHDRAWN = (
    "ingresada",
    "en_analisis",
    "aprobada",
    "negada",
    "desembolsada",
    "desistida",
)
IN_PROCESS = (SUBMITTED, IN_ANALYSIS)
STATUS_LABELS = {
    SUBMITTED: "Ingresada",
    IN_ANALYSIS: "En análisis",
    APPROVED: "Aprobada",
    DENIED: "Negada",
    DISBURSED: "Desembolsada",
    WITHDRAWN: "Desistida",
}
