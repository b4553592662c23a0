"""What a Dask worker runs: one training job for one queued run.

The studio (or `charlstm train --scheduler`) writes the run folder and a request in it, then
submits `train_run(path, token)` to the cluster. The worker claims the request (an atomic rename,
so leaving the queue and starting can never both happen), trains, and writes everything to the
run folder. It returns a short summary; nobody has to wait for it.

If the worker process dies (SIGKILL, out of memory), Dask runs the task again on another worker.
The request was claimed by the first attempt, so the retry finds none and returns at once: a
training never silently restarts from scratch. The killed attempt's lease runs out and the run
reads as "interrupted", to be continued from its last checkpoint by the user.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the studio imports this module: TensorFlow only loads in a worker, when it trains
    from .run import Request, Run
    from .training import TrainingJob

THREADS_ENV = "CHARLSTM_TRAIN_THREADS"
WORKER_NICENESS = 5  # below the studio (0), so a page stays quick; not so low that other work starves training


def train_run(path: str, token: str, *after: Any) -> dict:
    """Train the run at `path` if its request still holds `token`; never raises for user errors.

    `after` is the owner's previous job, if it had not ended: Dask starts this one once it has.
    """
    from .run import Run

    run = Run(Path(path))
    request = run.claim_request(token)
    if request is None:
        return {"run": run.id, "state": "cancelled"}
    _prepare_process()
    try:
        job = job_for(run, request)
    except Exception as exc:  # the run folder does not hold what a job needs: say so in the run, not here
        from .errors import CharlstmError

        message = str(exc) if isinstance(exc, CharlstmError) else f"Could not start ({type(exc).__name__}: {exc})."
        run.write_status("error", message)
        return {"run": run.id, "state": "error"}
    snap = job.run()
    _mark_free()
    if snap.stop_reason == "interrupted":
        os._exit(0)  # orphaned by a studio that stopped: nothing else should run here
    return {"run": run.id, "state": snap.stop_reason, "epochs": len(snap.history)}


def job_for(run: Run, request: Request) -> TrainingJob:
    """The job for a queued request: a new run trains with its own settings' budget, a continuation with its own.

    The person's wait counts from Start, or from when this worker became free for it (the end of the
    training before it): starting the worker is part of the wait, other people's trainings ahead are not.
    """
    from .training import TrainingJob

    more = request.action == "continue"
    return TrainingJob.for_run(
        run,
        epochs=request.epochs if more else None,
        seconds=request.seconds if more else None,
        strategy=request.strategy,
        max_seconds=request.max_seconds,
        watch_parent=True,
        waiting_since=max(request.submitted, _free_since),
    )


_free_since = 0.0  # when this worker process last finished a training (0: it has trained nothing yet)


def _mark_free() -> None:
    global _free_since
    _free_since = time.time()


def warm_up() -> str:
    """Import TensorFlow and Keras once per worker at start-up, so a first Start does not wait for it."""
    _prepare_process()
    import keras  # noqa: F401

    return "ready"


def dask_setup(worker: Any) -> None:
    """Dask's preload hook (`dask worker --preload charlstm.worker`): warm up before joining the scheduler.

    A worker that joined cold and imported TensorFlow as a task looked busier to the scheduler than one
    already training, and Dask hands a task that needs the `train` resource at once to the worker it judges
    least busy (dask/distributed#8177): two trainings could wait on one worker while another's slot stood
    free. A worker that joins warm, and a restarted one too, has no such task to look busy with.
    """
    warm_up()


_prepared = False


def _prepare_process() -> None:
    """Run at a lower priority than the studio, and split the cores between workers (once, before TF runs).

    Training is batch work and the studio is interactive: on a small machine, the page that answers
    a slider must not wait behind the trainer. TensorFlow reads its thread counts only before its first op.
    """
    global _prepared
    threads = os.environ.get(THREADS_ENV)
    if _prepared:
        return
    _prepared = True
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    if not threads:
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(min(2, int(threads)))
    except RuntimeError:
        pass  # TensorFlow already ran an op in this process; it keeps its first setting
