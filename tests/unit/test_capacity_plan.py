"""docs/capacity.md is written by `make capacity` from its steps: the arithmetic an operator reads
there (peak arrivals, members per node, nodes) is checked here on made-up steps."""

from bench import capacity


def step(users, rate, page_p95, pdf_p95=0.8, cores=None, machine=None, failures=None):
    cores = cores or {"auth": 0.3, "gateway": 0.1, capacity.BROKER: 0.2, "locust (the load)": 0.05}
    return {
        "users": users,
        "members_per_minute": rate,
        "page_p50_s": page_p95 / 5,
        "page_p95_s": page_p95,
        "pdf_p50_s": pdf_p95 / 2,
        "pdf_p95_s": pdf_p95,
        "page_count": 500,
        "pdf_count": 20,
        "failures": failures or {},
        "requests": [["POST /login", page_p95, 40]],
        "cores": cores,
        "machine_cores": machine if machine is not None else sum(cores.values()),
        "load_average": [1.0, 1.5],
    }


def topology(kind, *steps, beyond=()):
    return {"kind": kind, "steps": list(steps), "skipped": [], "beyond": list(beyond)}


def written(*results):
    return capacity.document(list(results), "test machine", 240, "2026-12-01 13:00 UTC")


def nodes_row(text, members):
    return next(line for line in text.splitlines() if line.startswith(f"| {members:,} |"))


def test_the_arrival_model_gives_the_peak_minute_of_the_morning():
    # 30 % of 100 000 over four hours is 125 a minute; the peak quarter-hour twice that
    assert capacity.peak_per_minute(100_000) == 250
    assert capacity.peak_per_minute(500_000) == 1250


def test_a_crossing_on_a_quiet_machine_sizes_the_nodes_by_the_last_step_within_the_limits():
    result = topology(
        "new",
        step(10, 60, 0.3),
        step(25, 150, 0.8),
        step(60, 170, 2.5),  # pages p95 over 1 s: beyond
        beyond=[120],
    )
    text = written(result)
    assert capacity.capacity_basis(result)[0] == 150
    assert "| 100,000 | 250 | 2 + 1 = **3** |" == nodes_row(text, 100_000)
    assert "| 500,000 | 1250 | 9 + 1 = **10** |" == nodes_row(text, 500_000)
    assert "not run: the step before was beyond the limits" in text


def test_a_slow_pdf_or_a_failed_request_is_beyond_the_limits():
    assert not capacity.within(step(25, 150, 0.5, pdf_p95=6.0))
    assert not capacity.within(step(25, 150, 0.5, failures={"POST /login": 1}))
    assert capacity.within(step(25, 150, 0.5, pdf_p95=4.9))


def test_a_crossing_caused_by_other_work_on_the_machine_sizes_by_the_projection():
    busy = step(25, 100, 3.0, machine=2.0)  # this run used 0.65 cores of the machine's 2.0
    result = topology("old", step(10, 60, 0.4), busy)
    basis, why = capacity.capacity_basis(result)
    # 60 a minute on 0.4 cores of the portal's processes, scaled to 70 % of two cores
    assert round(basis) == 210
    assert "other work" in why


def test_the_broker_is_sized_apart_by_its_least_shared_step():
    quiet = step(10, 60, 0.3, cores={"auth": 0.2, capacity.BROKER: 0.1})
    shared = step(25, 150, 0.5, cores={"auth": 0.5, capacity.BROKER: 1.0})
    text = written(topology("old", quiet, shared))
    assert capacity.broker_cpu_per_member([topology("old", quiet, shared)]) == 0.1
    # 0.1 CPU s per member at 250 members a minute
    assert "0.4 cores at the peak of 100,000 members" in text


def test_a_topology_that_could_not_run_is_written_down_and_the_rest_still_counts():
    failed = {"kind": "old", "steps": [], "skipped": [], "beyond": [], "error": "boom"}
    text = written(failed, topology("new", step(10, 60, 0.3), step(25, 150, 2.0)))
    assert "failed: boom" in text
    assert "unknown (no step within the limits)" in nodes_row(text, 100_000)
    assert "2 + 1 = **3**" not in text


def test_the_ab_table_compares_the_new_portal_with_the_old_in_the_same_run():
    old = topology(
        "old",
        step(25, 150, 0.4, cores={"auth": 0.6, "gateway": 0.15}),
        step(60, 250, 2.0),  # beyond: the old portal's crossing
    )
    old["login_path"] = {
        "clients": 4,
        "logins": 50,
        "refused": 0,
        "logins_per_s": 5.0,
        "logins_per_s_per_core": 5.0,
        "p95_s": 0.9,
    }
    new = topology(
        "new",
        step(25, 150, 0.2, cores={"auth": 0.15, "gateway": 0.15}),
        step(60, 330, 0.3),
    )
    new["login_path"] = {
        "clients": 4,
        "logins": 250,
        "refused": 0,
        "logins_per_s": 25.0,
        "logins_per_s_per_core": 25.0,
        "p95_s": 0.2,
    }
    rows = {row[0]: row[1:] for row in capacity.ab_rows([old, new])}
    members = rows["members per minute within the limits (users of that step)"]
    assert members == ("150 (25)", "330 (60)", "2.20×", "≥ 2.0×")
    # the new portal at its within step (60 users) against the old one at 25 users
    assert rows["pages p95: new at its within step, old at 25 users"][:3] == (
        "0.40 s",
        "0.30 s",
        "0.75×",
    )
    # 0.75 cores for 150 a minute against 0.30: 0.300 and 0.120 CPU s per member
    cpu = rows["CPU s per member's morning, the portal's processes (25 users)"]
    assert cpu[:3] == ("0.300", "0.120", "0.40×")
    assert rows["the login path alone: logins/s per core (4 clients)"][:3] == (
        "5.0",
        "25.0",
        "5.00×",
    )
    assert "| measure | old | new | new ÷ old | target |" in written(old, new)


def test_without_a_common_step_at_25_users_the_cpu_is_compared_at_the_most_users_both_played():
    old = topology("old", step(10, 60, 0.3, cores={"auth": 0.3}), step(15, 60, 2.0))
    new = topology("new", step(10, 60, 0.3, cores={"auth": 0.1}), step(15, 90, 0.3))
    rows = {row[0]: row[1:] for row in capacity.ab_rows([old, new])}
    # at 15 users both used 0.4 cores of the portal's (auth and gateway): 60 against 90 a minute
    assert rows["CPU s per member's morning, the portal's processes (15 users)"][:3] == (
        "0.400",
        "0.267",
        "0.67×",
    )
