"""The training cluster: the embedded one, a Dask LocalCluster in a process of its own, closed by TLS.

The studio's embedded cluster lives in a process tied to the studio's life; `connect` also holds the
rules for a cluster the studio did not start.

    python -m charlstm.cluster --workers 2

reads the cluster's certificate as one JSON line on its standard input, prints the scheduler's
address on its first line, then keeps the cluster up until its standard input closes, which happens
when the process that started it ends, however it ends (even SIGKILL). Then its workers stop, and a
training they ran reads "interrupted" from its run folder. `start` does all of this for the studio.

Why a process of its own: worker processes are started with multiprocessing's "spawn", which
re-imports the parent's main module. Inside the studio (`streamlit run .../app.py`) that module is the app, which
would start a cluster of its own in every worker. Here the main module is this small file.

Why TLS, even on 127.0.0.1: a Dask scheduler runs any pickled function a client sends, as the user it
runs as. On plain tcp:// any local user could run code as the studio's user and read every model. Each
start makes a throw-away certificate (`Security.temporary()`); the scheduler and the workers accept
only peers that hold it, and only the studio does. The certificate goes to the child on a pipe: never
on its command line or in its environment (`ps` shows both), never in a file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
from typing import TYPE_CHECKING

from .errors import CharlstmError
from .worker import THREADS_ENV

if TYPE_CHECKING:
    from distributed import Client
    from distributed.security import Security

TRAIN_RESOURCE = "train"  # each worker offers one training slot
WORKER_PRELOAD = "charlstm.worker"  # its dask_setup warms a worker up before it joins (`dask worker --preload`)
START_TIMEOUT_SECONDS = 120.0
CONNECT_TIMEOUT = "10s"
ENV_ALLOW_OPEN = "CHARLSTM_ALLOW_OPEN_SCHEDULER"  # "1": accept a tcp:// scheduler that only you can reach
# The PEM material of a Security.temporary(): one certificate and key for every role.
PEM_FIELDS = (
    "tls_ca_file",
    "tls_client_cert",
    "tls_client_key",
    "tls_scheduler_cert",
    "tls_scheduler_key",
    "tls_worker_cert",
    "tls_worker_key",
)
NO_HTTP: dict[str, list[str]] = {"distributed.scheduler.http.routes": [], "distributed.worker.http.routes": []}
TLS_VARIABLES = (
    "DASK_DISTRIBUTED__COMM__TLS__CA_FILE, DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT and "
    "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY"
)


# --- the studio's side ------------------------------------------------------------------------------
def connect(address: str | None, workers: int) -> tuple[subprocess.Popen | None, Client]:
    """A client of the training cluster: the one at `address`, or a new embedded one of `workers` slots.

    Returns the embedded cluster's process (None for an external one; give it to `stop`) and the client.
    """
    from distributed import Client

    proc, security = None, None
    if address is None:
        proc, address, security = start(workers)
    else:
        security = external_security(address)
    try:
        return proc, Client(address, security=security, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        if proc is not None:
            stop(proc)
            raise CharlstmError(f"The built-in training cluster started but did not answer ({exc}).") from None
        raise CharlstmError(
            f"Could not reach the training cluster at {address} ({exc}). Check that the Dask scheduler is "
            "running and trusts your certificate, or unset CHARLSTM_SCHEDULER to train on this machine."
        ) from None


def external_security(address: str) -> Security | None:
    """How to reach a scheduler the studio did not start: over TLS, with Dask's own configuration.

    Dask reads its TLS files from its configuration, e.g. the variables DASK_DISTRIBUTED__COMM__TLS__CA_FILE,
    ...__CLIENT__CERT and ...__CLIENT__KEY. An open (tcp://) scheduler is refused unless
    CHARLSTM_ALLOW_OPEN_SCHEDULER=1 says that only you can reach its port: then None (no TLS).
    """
    from distributed.security import Security

    if not address.startswith("tls://"):
        if os.environ.get(ENV_ALLOW_OPEN) == "1":
            return None
        raise CharlstmError(
            f"The training cluster at {address} is open: anyone who can reach its port can run code as the "
            "user its workers run as and read every model. Start the scheduler and workers with TLS "
            f"(see the README, 'On several machines'), then use a tls:// address with {TLS_VARIABLES} set. "
            f"On a machine where only you can reach the port, set {ENV_ALLOW_OPEN}=1 to use it as it is."
        )
    security = Security(require_encryption=True)
    tls = security.get_tls_config_for_role("client")
    if not (tls["ca_file"] and tls["cert"]):
        raise CharlstmError(
            f"The training cluster at {address} needs a certificate: set {TLS_VARIABLES} "
            "to the files made for it (see the README, 'On several machines')."
        )
    try:
        security.get_connection_args("client")  # reads the files now, to name the problem here
    except OSError as exc:  # ssl.SSLError is one too
        raise CharlstmError(f"Could not read the training cluster's certificate files ({exc}).") from None
    return security


def start(workers: int) -> tuple[subprocess.Popen, str, Security]:
    """Start `python -m charlstm.cluster` with a new certificate.

    Returns the process, the scheduler's tls:// address it printed, and the Security a client needs.
    """
    proc, security = launch(workers)
    found: list[str] = []
    stdout = proc.stdout
    assert stdout is not None  # stdout=PIPE
    reader = threading.Thread(target=lambda: found.append(stdout.readline().strip()), daemon=True)
    reader.start()
    reader.join(START_TIMEOUT_SECONDS)
    if not found or not found[0].startswith("tls://"):
        proc.kill()
        raise CharlstmError(
            "The built-in training cluster did not start (no scheduler address within "
            f"{START_TIMEOUT_SECONDS:g} s). Check the server's console for the reason."
        )
    return proc, found[0], security


def launch(workers: int) -> tuple[subprocess.Popen, Security]:
    """Start the cluster's process and hand it its certificate; it prints its address once it is up."""
    from distributed.security import Security

    security = Security.temporary()
    proc = subprocess.Popen(
        [sys.executable, "-m", "charlstm.cluster", "--workers", str(workers)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        # Its own session: a Ctrl+C in the studio's terminal reaches the studio, not the workers mid-step (each
        # then logged a traceback while closing). The cluster ends in order when the studio's pipe closes.
        start_new_session=True,
    )
    assert proc.stdin is not None  # stdin=PIPE
    try:
        proc.stdin.write(json.dumps({field: getattr(security, field) for field in PEM_FIELDS}) + "\n")
        proc.stdin.flush()
    except BrokenPipeError:
        proc.kill()
        raise CharlstmError(
            "The built-in training cluster ended as it started. Check the server's console for the reason."
        ) from None
    return proc, security


def stop(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """Close the cluster's stdin (it shuts down), then make sure it is gone."""
    if proc.stdin is not None and not proc.stdin.closed:
        with contextlib.suppress(BrokenPipeError):  # it had already gone
            proc.stdin.close()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --- the cluster's process ----------------------------------------------------------------------------
def serve(workers: int, security: Security) -> None:
    """Start the cluster, print its address, and run until stdin reaches end-of-file.

    The scheduler and the workers serve no HTTP routes (Dask starts an HTTP server even without a
    dashboard, with JSON about the cluster): set before the cluster starts, the workers inherit it.
    """
    import dask
    from distributed import LocalCluster

    dask.config.set(NO_HTTP)
    threads = max(1, (os.cpu_count() or 1) // workers)
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        protocol="tls",
        security=security,
        dashboard_address=None,
        # Without a dashboard the scheduler still opens its (route-less) HTTP server, on port 8787 by default:
        # a second studio on the machine then warned "Port 8787 is already in use". Any free loopback port.
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
        resources={TRAIN_RESOURCE: 1},
        env={THREADS_ENV: str(threads)},
        preload=[WORKER_PRELOAD],  # each worker, and each restarted one, joins with TensorFlow loaded
    )
    try:
        if announce(cluster.scheduler_address):
            sys.stdin.read()  # returns when the studio that started us ends
    finally:
        cluster.close(timeout=10)


def announce(address: str) -> bool:
    """Print the address for the studio; False when the studio has already gone (its pipe is closed).

    Then standard output points at /dev/null, so that the flush at exit finds no closed pipe either
    and the process ends without a BrokenPipeError traceback.
    """
    try:
        print(address, flush=True)
        return True
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return False


def read_security(line: str) -> Security | None:
    """The certificate the studio sent as its first line; None when it ended before sending one."""
    from distributed.security import Security

    if not line.strip():
        return None
    pem = json.loads(line)
    return Security(require_encryption=True, **{field: pem[field] for field in PEM_FIELDS})


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m charlstm.cluster", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    workers = max(1, parser.parse_args().workers)
    try:
        security = read_security(sys.stdin.readline())
    except (ValueError, KeyError):
        sys.exit("charlstm.cluster: expected the cluster's certificate as one JSON line on standard input.")
    if security is None:
        return  # the studio ended before it sent the certificate: nothing to serve
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C in the studio's terminal reaches us too
        serve(workers, security)


if __name__ == "__main__":
    main()
