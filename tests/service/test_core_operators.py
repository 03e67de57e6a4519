"""The operators' tools over the core's events (`python -m scripts.portal parked | held |
reconciliation --redo`, docs/operations.md), on the real broker with accounts and audit running."""

import pytest

from scripts import held, parked, portal, reconciliation
from services.accounts.service import AccountsService
from services.audit.service import AuditService
from tests.service.core_tools import core_event, member_with_savings, publish_core
from tests.service.event_tools import wait_until

MEMBER = "200777"
ACCOUNT = "4200777001"
LATE_ACCOUNT = "4200777002"  # its account_opened comes only after the operator's fix


def movement(account, sequence, credit, balance):
    return core_event(
        "movement_posted",
        {
            "account_number": account,
            "sequence": sequence,
            "date": "2026-03-02",
            "posted_at": "2026-03-02T15:00:00Z",
            "description": "Depósito en ventanilla",
            "reference": f"REF-{account}-{sequence}-{credit}",
            "debit": "0.00",
            "credit": credit,
            "balance": balance,
        },
    )


def opened(account):
    return core_event(
        "account_opened",
        {
            "account_number": account,
            "member_number": MEMBER,
            "product": "AHORRO_VISTA",
            "opened_on": "2026-03-01",
        },
    )


def day_closed(balance, last_sequence):
    return core_event(
        "day_closed",
        {
            "business_date": "2026-03-02",
            "chunk": 1,
            "chunks": 1,
            "accounts": [
                {"account_number": ACCOUNT, "balance": balance, "last_sequence": last_sequence}
            ],
        },
    )


@pytest.fixture
def portal_core(service_config, container_factory, monkeypatch):
    config = {**service_config, "CORE_RETRY_DELAYS": "0.2,0.4", "CORE_NOT_YET_DELAYS": "0.2,0.4"}
    container_factory(AccountsService, config).start()
    container_factory(AuditService, config).start()
    monkeypatch.setenv("AMQP_URI", config["AMQP_URI"])
    publish_core(config["AMQP_URI"], *member_with_savings(MEMBER, ACCOUNT))
    return config


def balance(rpc, account):
    return {a["account_number"]: a["balance"] for a in rpc.list_accounts(MEMBER)}.get(account)


def run(main, argv, capsys):
    code = main(argv)
    return code, capsys.readouterr().out


def audited_discards(rpc_proxy):
    return rpc_proxy("audit").query(event_type="core_event_discarded")


@pytest.mark.quorum  # parked in, and requeued from, the production (quorum) queues
def test_operators_list_filter_page_requeue_and_discard_parked_events(
    portal_core, rpc_proxy, capsys
):
    uri = portal_core["AMQP_URI"]
    rpc = rpc_proxy("accounts")
    wait_until(lambda: balance(rpc, ACCOUNT) == "0.00", message="account opened")
    wrong_sum = movement(ACCOUNT, 1, "10.00", "12.00")  # refused at once: dato_invalido
    wrong_too = movement(ACCOUNT, 1, "20.00", "25.00")
    unknown = movement(LATE_ACCOUNT, 1, "7.00", "7.00")  # refused after retries: desconocido
    publish_core(uri, wrong_sum, wrong_too, unknown)
    items = wait_until(lambda: len(parked.parked()) == 3 and parked.parked(), message="parked")
    ids = {i["event_id"]: i["id"] for i in items}

    code, out = run(parked.main, [], capsys)
    assert code == 0
    assert "3 evento(s) apartado(s)" in out
    for event in (wrong_sum, wrong_too, unknown):
        assert ids[event["event_id"]] in out and event["event_id"] in out
    assert f"account:{ACCOUNT}" in out and f"account:{LATE_ACCOUNT}" in out
    assert "dato_invalido" in out and "desconocido" in out and "El saldo no cuadra" in out

    # filters: by kind, by stream (the account number alone is enough)
    out = run(parked.main, ["--kind", "desconocido"], capsys)[1]
    assert unknown["event_id"] in out and wrong_sum["event_id"] not in out
    out = run(parked.main, ["--stream", ACCOUNT], capsys)[1]
    assert wrong_sum["event_id"] in out and wrong_too["event_id"] in out
    assert unknown["event_id"] not in out
    # pages
    out = run(parked.main, ["--page-size", "2"], capsys)[1]
    assert "página 1 de 2" in out and "… 1 más: --page 2" in out
    out = run(parked.main, ["--page-size", "2", "--page", "2"], capsys)[1]
    assert "página 2 de 2" in out and out.count("motivo:") == 1

    # the cause fixed (the account exists now), that one event goes back and applies
    publish_core(uri, opened(LATE_ACCOUNT))
    wait_until(lambda: balance(rpc, LATE_ACCOUNT) == "0.00", message="late account opened")
    code, out = run(parked.main, ["requeue", unknown["event_id"]], capsys)
    assert (code, out.strip()) == (0, "1 evento(s) devuelto(s) a su cola.")
    wait_until(lambda: balance(rpc, LATE_ACCOUNT) == "7.00", message="requeued event applied")
    # the broker gives back what a listing left unsettled as the listing's channel closes, a
    # moment later on a quorum queue: the operator's next look shows the queue as it settles
    wait_until(
        lambda: (
            sorted(i["event_id"] for i in parked.parked())
            == sorted([wrong_sum["event_id"], wrong_too["event_id"]])
        ),
        message="the other two still parked",
    )

    # discarding one needs a reason, is audited, and leaves the other parked
    with pytest.raises(SystemExit):
        parked.main(["discard", ids[wrong_too["event_id"]]])
    code, out = run(
        parked.main,
        ["discard", ids[wrong_too["event_id"]], "--reason", "El core lo anuló (ticket 118)"],
        capsys,
    )
    assert code == 0
    wait_until(
        lambda: [i["event_id"] for i in parked.parked()] == [wrong_sum["event_id"]],
        message="only the other one still parked",
    )
    entry = wait_until(lambda: audited_discards(rpc_proxy), message="discard audited")[0]
    assert entry["source"] == "accounts"
    assert entry["data"]["where"] == "parked"
    assert entry["data"]["event_id"] == wrong_too["event_id"]
    assert entry["data"]["reason"] == "El core lo anuló (ticket 118)"
    assert "El saldo no cuadra" in entry["data"]["refusal"]
    assert entry["data"]["stream"] == f"account:{ACCOUNT}"

    # every one a filter passes goes back; one still wrong is parked again, with its reason
    code, out = run(parked.main, ["requeue", "--all", "--kind", "dato_invalido"], capsys)
    assert (code, out.strip()) == (0, "1 evento(s) devuelto(s) a su cola.")
    again = wait_until(lambda: parked.parked(), message="parked again")
    assert [(i["event_id"], i["kind"]) for i in again] == [(wrong_sum["event_id"], "dato_invalido")]
    assert balance(rpc, ACCOUNT) == "0.00"


def test_operators_see_held_streams_and_discard_a_held_event(portal_core, rpc_proxy, capsys):
    uri = portal_core["AMQP_URI"]
    rpc = rpc_proxy("accounts")
    wait_until(lambda: balance(rpc, ACCOUNT) == "0.00", message="account opened")
    publish_core(uri, movement(ACCOUNT, 1, "10.00", "10.00"))
    wait_until(lambda: balance(rpc, ACCOUNT) == "10.00", message="movement 1")
    forever = movement(ACCOUNT, 999999, "1.00", "11.00")  # a sequence the core never reaches
    publish_core(uri, forever)
    wait_until(lambda: rpc.inbound_status()["held"] == 1, message="held")

    code, out = run(held.main, ["--service", "accounts"], capsys)
    assert code == 0
    assert "1 flujo(s) detenido(s)" in out
    assert f"account:{ACCOUNT}" in out and "espera la secuencia 2" in out and "(999999)" in out
    # the reconciliation shows it too
    reconciliation.main()
    assert "espera la secuencia 2" in capsys.readouterr().out

    with pytest.raises(SystemExit) as done:
        portal.main(["held", "discard", f"account:{ACCOUNT}", "999999", "--reason", "Error"])
    assert done.value.code == 0
    assert "Descartado el evento retenido" in capsys.readouterr().out
    assert rpc.inbound_status()["held"] == 0
    assert run(held.main, ["--service", "accounts"], capsys)[1].strip() == (
        "Ningún flujo detenido: no hay eventos retenidos."
    )
    entry = wait_until(lambda: audited_discards(rpc_proxy), message="discard audited")[0]
    assert entry["data"]["where"] == "held"
    assert entry["data"]["event_id"] == forever["event_id"]
    assert (entry["data"]["stream"], entry["data"]["sequence"]) == (f"account:{ACCOUNT}", 999999)
    assert entry["data"]["reason"] == "Error"
    # the account goes on with its next sequence
    publish_core(uri, movement(ACCOUNT, 2, "1.00", "11.00"))
    wait_until(lambda: balance(rpc, ACCOUNT) == "11.00", message="movement 2")


def test_a_days_close_is_redone_by_the_operator_and_by_the_core(portal_core, rpc_proxy, capsys):
    uri = portal_core["AMQP_URI"]
    rpc = rpc_proxy("accounts")
    wait_until(lambda: balance(rpc, ACCOUNT) == "0.00", message="account opened")
    publish_core(uri, movement(ACCOUNT, 1, "10.00", "10.00"), day_closed("15.50", 2))

    def kinds():
        day = rpc.reconciliation("2026-03-02")
        return day.get("complete") and sorted(d["kind"] for d in day["differences"])

    assert wait_until(kinds, message="day compared") == ["balance", "sequence_behind"]
    # the missing movement arrives late; the operator compares the day again
    publish_core(uri, movement(ACCOUNT, 2, "5.50", "15.50"))
    wait_until(lambda: balance(rpc, ACCOUNT) == "15.50", message="movement 2")
    assert reconciliation.main("2026-03-02", redo=True) == 0
    assert "Sin diferencias" in capsys.readouterr().out
    assert rpc.reconciliation("2026-03-02")["differences"] == []

    # the core closes the day again (a new day_closed, same date and chunks): it replaces it
    publish_core(uri, day_closed("16.00", 2))
    assert wait_until(lambda: kinds() == ["balance"], message="close redone")
    day = rpc.reconciliation("2026-03-02")
    assert [(d["portal"], d["core"]) for d in day["differences"]] == [("15.50", "16.00")]
    assert (day["received"], day["chunks"]) == (1, 1)
