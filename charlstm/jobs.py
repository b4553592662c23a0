"""Training jobs on a Dask cluster: submit, leave the queue, stop, and the limits that keep it fair.

The studio never trains. It writes a run folder with a request in it (`Run.write_request`) and
submits `charlstm.worker.train_run` to a Dask cluster, where each worker offers one training slot
(the worker resource `train=1`). Dask does the queueing, the placement and the worker restarts.

- Embedded (the default): a `LocalCluster` of worker processes started with the studio;
  `CHARLSTM_WORKERS` sets how many (default: one per two cores, memory allowing).
- External: `CHARLSTM_SCHEDULER=tls://host:8786` submits to a cluster started with TLS
  (`dask scheduler --tls-...` and `dask worker ... --resources train=1 --preload charlstm.worker`, see
  the README); a `tcp://` scheduler only with `CHARLSTM_ALLOW_OPEN_SCHEDULER=1`. The models folder
  must be on storage every machine sees.

Everything a page shows comes from the run folders, not from this object: a reload, a second tab
or a restarted server sees the same runs. This object only holds the Dask client and, per owner,
the last job submitted, so that an owner's next job waits for it (one training per owner at a time).
No Streamlit here, and no TensorFlow: that lives in the workers.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import store
from .cluster import TRAIN_RESOURCE
from .errors import CharlstmError
from .run import Request, Run, Status

ENV_SCHEDULER = "CHARLSTM_SCHEDULER"
ENV_WORKERS = "CHARLSTM_WORKERS"
ENV_MAX_SECONDS = "CHARLSTM_MAX_TRAINING_SECONDS"
ENV_MAX_QUEUED = "CHARLSTM_MAX_QUEUED"
DEFAULT_MAX_SECONDS = 4 * 3600.0
STUDIO_MAX_EPOCHS = 1000  # an epoch budget chosen in the studio still ends in reasonable time
DEFAULT_MAX_QUEUED = 20  # waiting trainings on the whole server
OWNER_MAX_WAITING = 2  # besides the one training now
MEMORY_PER_WORKER_GB = 3.0  # a training worker with TensorFlow, a model and its data


def default_workers() -> int:
    """One training slot per two cores, as memory allows: 1 on a 2-core laptop, 8 on a 16-core box."""
    cores = os.cpu_count() or 1
    try:
        memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        memory_gb = MEMORY_PER_WORKER_GB
    return max(1, min(cores // 2, int(memory_gb // MEMORY_PER_WORKER_GB)))


def _env_number(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if value > 0 else default


@dataclass(frozen=True)
class QueuePlace:
    position: int  # 1-based among the runs waiting on this models folder
    training_now: int  # runs training on this models folder


class JobQueue:
    """One per studio process (or CLI call). Thread-safe; the Dask client starts on first use."""

    def __init__(
        self,
        root: Path | None = None,
        scheduler: str | None = None,
        workers: int | None = None,
        max_seconds: float | None = None,
        max_queued: int | None = None,
    ):
        self.root = Path(root or store.runs_root())
        self.scheduler = scheduler if scheduler is not None else os.environ.get(ENV_SCHEDULER) or None
        self.workers = int(workers or _env_number(ENV_WORKERS, default_workers()))
        self.max_seconds = float(max_seconds or _env_number(ENV_MAX_SECONDS, DEFAULT_MAX_SECONDS))
        self.max_queued = int(max_queued or _env_number(ENV_MAX_QUEUED, DEFAULT_MAX_QUEUED))
        self._lock = threading.RLock()
        self._client: Any = None
        self._cluster: Any = None
        self._last: dict[str, Any] = {}  # owner -> their last submitted future

    # --- the cluster --------------------------------------------------------------------------------
    @property
    def embedded(self) -> bool:
        return self.scheduler is None

    def client(self) -> Any:
        """The Dask client, connecting (or starting the embedded cluster) on first use."""
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _connect(self) -> Any:
        from . import cluster

        self._cluster, client = cluster.connect(self.scheduler, self.workers)  # TLS, or refused: see cluster.py
        atexit.register(self.close)  # the workers joined warm (cluster.WORKER_PRELOAD): nothing to send them
        return client

    def close(self) -> None:
        """Disconnect; the embedded cluster's workers end with it (and their trainings are interrupted)."""
        with self._lock:
            client, embedded, self._client, self._cluster = self._client, self._cluster, None, None
        with contextlib.suppress(Exception):
            if client is not None:
                client.close()
        if embedded is not None:
            from . import cluster

            cluster.stop(embedded)

    def worker_pids(self) -> list[int]:
        """The embedded workers' process ids (for tests and benchmarks)."""
        return list(self.client().run(os.getpid).values())

    # --- submitting -------------------------------------------------------------------------------------
    def submit(
        self,
        run: Run,
        owner: str,
        *,
        action: str = "new",
        epochs: int | None = None,
        seconds: float | None = None,
        strategy: str = "default",
    ) -> None:
        """Queue a training of `run` for `owner`; it starts when a worker is free and the owner's last one ended."""
        from distributed import fire_and_forget

        from .worker import train_run

        with self._lock:
            self.check_limits(owner)
            busy = run.busy_message()  # names who holds it and since when
            if busy is not None:
                raise CharlstmError(busy)
            request = Request(
                token=secrets.token_hex(8),
                owner=owner,
                action=action,
                epochs=epochs,
                seconds=seconds,
                max_seconds=self.max_seconds,
                strategy=strategy,
            )
            try:
                run.write_request(request)
            except OSError as exc:
                raise CharlstmError(
                    f"Could not write to the models folder ({exc.strerror or exc}). Check the free disk space."
                ) from None
            after = self._owner_job_ahead(owner, run)
            future = self.client().submit(
                train_run,
                str(run.path),
                request.token,
                *([after] if after is not None else []),
                key=f"charlstm-{run.id}-{request.token}",
                resources={TRAIN_RESOURCE: 1},
                priority=-round(request.submitted * 1000),  # first come, first served (Dask's default is not)
                pure=False,
            )
            fire_and_forget(future)  # an external cluster keeps training after this studio restarts
            self._last = {who: f for who, f in self._last.items() if not f.done()}  # forget finished ones
            self._last[owner] = future

    def _owner_job_ahead(self, owner: str, run: Run) -> Any:
        """The owner's last job, if one of their other runs still trains or waits: this one starts after it.

        The run folders decide, not the job's Dask state: a job whose worker was killed is retried by Dask and
        may wait, on another worker, behind someone else's training, though its run already reads
        "interrupted". A Continue tied to it would wait there too, beside a free slot.
        """
        after = self._last.get(owner)
        if after is None or after.done():
            return None
        others_active = any(other.path != run.path for other, _ in self.owner_active(owner))
        return after if others_active else None

    def check_limits(self, owner: str, starting: int = 1) -> None:
        """One training and OWNER_MAX_WAITING waiting per owner; at most `max_queued` waiting in all.

        `starting` trainings are about to be added (a race adds two, and counts as two)."""
        statuses = [(run, run.status()) for run in store.run_folders(self.root)]
        mine = [s for run, s in statuses if s.active and run.owner == owner]
        if len(mine) + starting - 1 > OWNER_MAX_WAITING:
            raise CharlstmError(
                f"You already have {len(mine)} trainings running or waiting, the most one person can have. "
                "Wait for one to finish, or stop one on the Train page."
            )
        waiting = sum(1 for _, s in statuses if s.state == "queued")
        if waiting >= self.max_queued:
            raise CharlstmError(
                f"The trainer's queue is full ({waiting} trainings waiting). Try again in a few minutes."
            )

    def stop(self, run: Run) -> str:
        """Leave the queue or stop after the current batch; returns 'left' or 'stopping'."""
        if run.withdraw_request():
            _forget_unstarted(run)
            return "left"
        run.request_stop()
        return "stopping"

    # --- reading -----------------------------------------------------------------------------------------
    def owner_active(self, owner: str) -> list[tuple[Run, Status]]:
        """This owner's runs that train or wait now, oldest first."""
        found = []
        for run in store.run_folders(self.root):
            status = run.status()
            if status.active and run.owner == owner:
                found.append((run, status))
        return sorted(found, key=_queue_order)

    def place(self, run: Run) -> QueuePlace:
        """Where a waiting run stands: how many wait before it, how many train now."""
        waiting, training = [], 0
        for other in store.run_folders(self.root):
            state = other.status().state
            if state == "running":
                training += 1
                continue
            elif state == "queued":
                request = other.request()
                waiting.append((request.submitted if request else 0.0, other.id))
        mine = run.request()
        ahead = sum(1 for submitted, rid in waiting if mine and submitted < mine.submitted and rid != run.id)
        return QueuePlace(position=ahead + 1, training_now=training)


def _queue_order(pair: tuple[Run, Status]) -> tuple[int, float]:
    """Training first, then waiting in the order they were submitted."""
    run, status = pair
    request = run.request()
    return (0 if status.state == "running" else 1, request.submitted if request else 0.0)


def _forget_unstarted(run: Run) -> None:
    """A run that left the queue before its first epoch is removed; a continued one keeps its state."""
    if not run.earned() and run.status().state in ("unknown", "queued"):
        with contextlib.suppress(CharlstmError, OSError):
            run.remove()
