"""The server-log check every browser test ends with: Dask's shutdown race passes, a traceback of ours fails.

No browser: the logs are the text a server printed (the chained one is the shape CI saw on 2026-12-04).
"""

from __future__ import annotations

import pytest
from e2e_helpers import SHUTDOWN_NOISE, assert_no_traceback

CANCELLED_CONNECT = """Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/distributed/core.py", line 1422, in connect
    return await self._connect(addr=addr, timeout=timeout)
asyncio.exceptions.CancelledError

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/distributed/core.py", line 1413, in connect
    async with asyncio.timeout(math.inf) as scope:
TimeoutError

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/distributed/worker.py", line 1165, in heartbeat
    response = await retry_operation(
distributed.comm.core.CommClosedError: ConnectionPool closing.
"""

OURS = """Traceback (most recent call last):
  File "charlstm/library.py", line 10, in open
    raise KeyError(run_id)
KeyError: 'abc'
"""


def test_dasks_chained_shutdown_race_passes():
    assert_no_traceback(f"started\n{SHUTDOWN_NOISE}\n{CANCELLED_CONNECT}")


@pytest.mark.parametrize(
    "log",
    [
        f"started\n{OURS}",  # before any shutdown
        f"started\n{SHUTDOWN_NOISE}\n{CANCELLED_CONNECT}\n{OURS}",  # after the race, a traceback of ours
        f"started\n{CANCELLED_CONNECT}",  # Dask's traceback without the heartbeat line is not the race
    ],
)
def test_a_traceback_that_is_not_the_race_fails(log):
    with pytest.raises(AssertionError):
        assert_no_traceback(log)
