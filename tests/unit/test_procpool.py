"""The worker-process pool auth hashes in (services/common/procpool.py): its bounds, and a
worker that dies is replaced. Real child processes (auth's hashing worker, cheap Argon2 here)."""

import eventlet
import pytest

from services.common.procpool import PoolBusy, ProcessPool

MODULE = "services.auth.hashing_worker"


@pytest.fixture
def pool():
    pool = ProcessPool(MODULE, size=1, wait=30, max_waiting=1)
    pool.start()
    yield pool
    pool.close()


def test_one_waiting_job_at_most_the_next_is_refused_at_once(pool):
    held = pool.acquire()
    waiting = eventlet.spawn(pool.call, {"op": "hash", "secret": "Socia-2026!"})
    eventlet.sleep(0)  # let it take its place in the line
    assert pool.waiting == 1
    with pytest.raises(PoolBusy):
        pool.call({"op": "hash", "secret": "Socia-2026!"})
    pool.release(held)
    assert waiting.wait().startswith("$argon2id$")  # the one in line was served


def test_a_worker_that_died_is_replaced(pool):
    (worker,) = pool._workers
    worker.kill()
    assert pool.call({"op": "hash", "secret": "x"}).startswith("$argon2id$")
    assert pool._workers[0] is not worker and pool._workers[0].alive()
