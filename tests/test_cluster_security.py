"""The training cluster is closed: only a peer holding its certificate runs code on it.

A Dask scheduler runs any pickled function a client sends, as the user it runs as; on plain tcp://
any local user could train, read every model, or run anything at all as the studio's user. Here:
the embedded cluster (one worker, started once for the module) refuses clients without its
certificate and serves no HTTP data; an open external scheduler is refused unless the operator
opts in; and the README's TLS recipe for several machines works, with real `dask` processes.
"""

from __future__ import annotations

import operator
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import dask
import pytest
from distributed.security import Security
from helpers import free_port, wait_for

from charlstm import cluster
from charlstm.errors import CharlstmError

ROOT = Path(__file__).resolve().parents[1]
REFUSED_WITHIN_SECONDS = 5.0
DASK_ROUTES = ["/json/identity.json", "/json/counts.json", "/info/main/workers.html", "/health", "/metrics"]
TLS_ENV = {  # what the README tells the studio's operator to set, here with the recipe's file names
    "DASK_DISTRIBUTED__COMM__TLS__CA_FILE": "cert.pem",
    "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT": "cert.pem",
    "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY": "key.pem",
}


DASK_DASHBOARD_PORT = 8787  # where a scheduler opens its HTTP server unless told otherwise


@pytest.fixture(scope="module")
def embedded():
    """The studio's embedded cluster with one worker, as `JobQueue` starts it."""
    proc, client = cluster.connect(None, 1)
    yield client
    client.close()
    cluster.stop(proc)


def test_the_embedded_cluster_speaks_tls_and_trains_for_its_certificate(embedded):
    assert embedded.scheduler.address.startswith("tls://127.0.0.1:")
    workers = embedded.scheduler_info()["workers"]
    assert len(workers) == 1 and all(address.startswith("tls://") for address in workers)
    assert [w["resources"] for w in workers.values()] == [{cluster.TRAIN_RESOURCE: 1}]
    assert embedded.submit(operator.add, 1, 2, resources={cluster.TRAIN_RESOURCE: 1}).result(timeout=30) == 3


def test_a_client_without_the_certificate_is_refused(embedded):
    """Another local user's tries, each in a process of its own, as theirs would be."""
    address = embedded.scheduler.address
    tries = {
        "no certificate": f"Client({address!r}, timeout='3s')",
        "a certificate the cluster did not make": f"Client({address!r}, security=Security.temporary(), timeout='3s')",
        "plain tcp to the same port": f"Client({address.replace('tls://', 'tcp://')!r}, timeout='3s')",
    }
    attacker = "from distributed import Client\nfrom distributed.security import Security\n" + "\n".join(
        f"try:\n    {attempt}\n    print('connected')\nexcept Exception as exc:\n    print(type(exc).__name__)"
        for attempt in tries.values()
    )
    started = time.monotonic()
    ran = subprocess.run([sys.executable, "-c", attacker], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr[-3000:]
    outcomes = dict(zip(tries, ran.stdout.split(), strict=True))
    assert "connected" not in outcomes.values(), outcomes
    assert time.monotonic() - started < REFUSED_WITHIN_SECONDS + 5  # refused at once, not timed out
    assert embedded.submit(operator.mul, 2, 3).result(timeout=30) == 6  # and the real client is unharmed


def test_no_http_endpoint_answers_with_data(embedded):
    host, port = embedded.scheduler.address.removeprefix("tls://").rsplit(":", 1)
    assert _raw_http_get(host, int(port)) == b""  # the scheduler's port speaks TLS only
    info = embedded.scheduler_info()
    http_ports = [info["services"]["dashboard"]] + [w["services"]["dashboard"] for w in info["workers"].values()]
    assert info["services"]["dashboard"] != DASK_DASHBOARD_PORT  # a second studio on the machine finds it free
    for http_port in http_ports:  # Dask starts an HTTP server even without a dashboard: it serves nothing
        assert {route: _http_status(host, http_port, route) for route in DASK_ROUTES} == dict.fromkeys(DASK_ROUTES, 404)


def _raw_http_get(host: str, port: int) -> bytes:
    """What a plain HTTP GET reads back from a port (nothing, when the peer resets or closes)."""
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"GET /json/identity.json HTTP/1.0\r\nHost: x\r\n\r\n")
        try:
            return sock.recv(4096)
        except ConnectionResetError:
            return b""


def _http_status(host: str, port: int, route: str) -> int:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{route}", timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_cluster_process_exits_quietly_when_its_parent_goes_first():
    """The studio killed while its cluster starts: the cluster's address meets a closed pipe."""
    parent = textwrap.dedent(
        """
        import os
        from charlstm import cluster
        proc, _ = cluster.launch(1)
        print(proc.pid, flush=True)
        os._exit(0)  # gone before the cluster is up: its stdin and stdout pipes close first
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ran = subprocess.run(
        [sys.executable, "-c", parent], env=env, capture_output=True, text=True, timeout=90
    )  # returns once the cluster and its workers, which share our stderr, have all exited
    assert ran.returncode == 0 and ran.stdout.strip().isdigit(), ran.stderr
    assert "Traceback" not in ran.stderr and "Error" not in ran.stderr, ran.stderr


# --- a cluster the studio did not start -----------------------------------------------------------------
def test_an_open_scheduler_is_refused_unless_the_operator_opts_in(monkeypatch):
    monkeypatch.delenv(cluster.ENV_ALLOW_OPEN, raising=False)
    for address in ("tcp://127.0.0.1:8786", "127.0.0.1:8786"):
        with pytest.raises(CharlstmError, match="anyone who can reach its port can run code") as refused:
            cluster.external_security(address)
        assert "tls://" in str(refused.value) and cluster.ENV_ALLOW_OPEN in str(refused.value)
    monkeypatch.setenv(cluster.ENV_ALLOW_OPEN, "1")
    assert cluster.external_security("tcp://127.0.0.1:8786") is None


def test_a_tls_scheduler_takes_dasks_own_tls_configuration(tmp_path):
    with pytest.raises(CharlstmError, match="needs a certificate"):
        cluster.external_security("tls://a:8786")
    cert, key = _pem_files(tmp_path)
    tls = {
        "distributed.comm.tls.ca-file": str(cert),
        "distributed.comm.tls.client.cert": str(cert),
        "distributed.comm.tls.client.key": str(key),
    }
    with dask.config.set(tls):
        security = cluster.external_security("tls://a:8786")
    assert security is not None and security.require_encryption
    assert security.get_tls_config_for_role("client") == {
        "ca_file": str(cert),
        "cert": str(cert),
        "key": str(key),
        "ciphers": None,
    }
    key.unlink()
    with dask.config.set(tls), pytest.raises(CharlstmError, match="Could not read"):
        cluster.external_security("tls://a:8786")


def _pem_files(folder: Path) -> tuple[Path, Path]:
    temporary = Security.temporary()
    cert, key = folder / "cert.pem", folder / "key.pem"
    cert.write_text(temporary.get_tls_config_for_role("client")["cert"])
    key.write_text(temporary.get_tls_config_for_role("client")["key"])
    return cert, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the recipe makes its certificate with openssl")
def test_the_readmes_recipe_for_several_machines(tmp_path):
    """The README's commands on 127.0.0.1: openssl, `dask scheduler`, `dask worker`, the studio's variables."""
    run = {"cwd": tmp_path, "check": True, "capture_output": True, "timeout": 60}
    make_certificate = (
        "-x509 -newkey rsa:2048 -nodes -days 365 -subj /CN=charlstm-cluster -keyout key.pem -out cert.pem"
    )
    subprocess.run(["openssl", "req", *make_certificate.split()], **run)
    port = free_port()
    dask_cli = str(Path(sys.executable).parent / "dask")
    tls = ["--tls-ca-file", "cert.pem", "--tls-cert", "cert.pem", "--tls-key", "key.pem", "--no-dashboard"]
    no_http = {"DASK_DISTRIBUTED__SCHEDULER__HTTP__ROUTES": "[]", "DASK_DISTRIBUTED__WORKER__HTTP__ROUTES": "[]"}
    env = {**os.environ, **no_http, "PYTHONPATH": str(ROOT)}
    quiet = {"cwd": tmp_path, "env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen([dask_cli, "scheduler", "--host", "127.0.0.1", "--port", str(port), *tls], **quiet)]
    try:
        worker = [dask_cli, "worker", f"tls://127.0.0.1:{port}", *tls, "--nworkers", "1", "--nthreads", "1"]
        worker += ["--resources", "train=1", "--preload", cluster.WORKER_PRELOAD]
        procs.append(subprocess.Popen(worker, **quiet))
        studio = textwrap.dedent(
            f"""
            import os
            import sys
            from charlstm import cluster
            _, client = cluster.connect(os.environ["CHARLSTM_SCHEDULER"], 1)
            client.wait_for_workers(1, timeout=60)
            assert all(client.run(lambda: "keras" in sys.modules).values())  # it joined warm: the preload ran
            print(client.submit(os.getpid, resources={{"{cluster.TRAIN_RESOURCE}": 1}}).result(timeout=30))
            print(client.scheduler_info()["services"]["dashboard"])
            """
        )
        studio_env = {**os.environ, **TLS_ENV, "CHARLSTM_SCHEDULER": f"tls://127.0.0.1:{port}", "PYTHONPATH": str(ROOT)}
        wait_for(lambda: _listening(port), 30, 0.1, what="the scheduler")
        ran = subprocess.run([sys.executable, "-c", studio], env=studio_env, **{**run, "check": False})
        assert ran.returncode == 0, ran.stderr[-3000:]
        trainer, http_port = (int(line) for line in ran.stdout.split())
        assert trainer not in (proc.pid for proc in procs)  # it ran in the worker's own process
        assert {route: _http_status("127.0.0.1", http_port, route) for route in DASK_ROUTES} == dict.fromkeys(
            DASK_ROUTES, 404
        )
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
