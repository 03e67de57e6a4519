"""`python -m scripts.portal audit-verify [--anchor]`: the audit log checked by the audit service
against its key and its anchor file (and, with --anchor, the head anchored first)."""

import sys

from nameko.standalone.rpc import ClusterRpcProxy

from services.common import config


def render(check):
    anchor = check.get("anchor") or {}
    if check["valid"]:
        lines = [f"Bitácora íntegra: {check['entries']} entradas verificadas."]
    else:
        lines = [
            f"Bitácora ALTERADA: la entrada {check['first_broken_seq']} no corresponde "
            f"({check['entries']} entradas leídas)."
        ]
    if anchor.get("seq") is None:
        lines.append(f"Ancla: ninguna todavía en {anchor.get('source', '-')}.")
    else:
        lines.append(
            f"Ancla: {anchor['source']}, la última en seq {anchor['seq']} ({anchor['at']}), "
            f"hash {anchor['hash']}; {anchor['checked']} verificada(s)"
            + (f", {anchor['rejected']} línea(s) sin firma válida" if anchor["rejected"] else "")
            + "."
        )
    return lines


def main(anchor_first=False):
    """Prints the verification; returns the exit status (0 valid, 1 altered, 2 unavailable)."""
    cfg = {"AMQP_URI": config.amqp_uri(), "serializer": "json"}
    try:
        with ClusterRpcProxy(cfg, timeout=max(config.rpc_timeout(), 60.0)) as rpc:
            if anchor_first:
                rpc.audit.anchor_chain()
            check = rpc.audit.verify_chain()
    except Exception as exc:  # noqa: BLE001  broker or audit away: say so, plainly
        print(f"No se pudo consultar al servicio audit: {exc}", file=sys.stderr)
        return 2
    for line in render(check):
        print(line)
    return 0 if check["valid"] else 1
