"""The benchmarks and load tools (the operator's commands are in scripts/); none of them is part
of the running portal.

    python -m bench [--only rpc,position,argon2,inbound,bulk_import]
        make bench: the portal's figures, written into docs/benchmarks.md (bench/run.py)
    python -m bench.capacity [--document]
        make capacity: the month-start morning under locust, docs/capacity.md
    python -m bench.reports | bench.inbound | bench.bulk_load | bench.cpu_profile | bench.amqp_rpc
        one measurement alone (each module's docstring says how)
"""
