"""The warnings this project acknowledges, each with its reason; every other warning is shown.

pytest applies the same list from pyproject.toml (`filterwarnings`); processes started outside
pytest (run_service, the PDF workers, the `scripts.portal` commands) call `acknowledge()` before
importing nameko or eventlet.
"""

import warnings


def acknowledge() -> None:
    # eventlet announces its deprecation on import; nameko 2.14 needs it, and docs/decisions.md
    # ("nameko 2.14 + eventlet") says the risk and the way out
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated", category=Warning)
