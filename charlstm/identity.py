"""Who a run belongs to: owner ids, and browser keys that nobody can choose or copy from a file.

Every run records its owner in its meta (`Run.create` refuses to make one without). Three kinds:

- `OPERATOR`: whoever runs this machine: runs made by the command line or the Python API. Visitors of
  the studio never see them; the operator shares a model with everyone on purpose (`charlstm share`).
- `browser-<hash>`: a studio visitor without an account. The browser holds a key signed with this
  studio's secret (`KeyRing`); the run records only a hash of that key, so nothing on disk (a run
  folder, an export) can be turned back into the key that owns it.
- `user-<hash>`: a visitor signed in with Streamlit's `st.login` (hash of the account's subject).

No Streamlit here: `charlstm_studio/ui/state.py` reads the cookie and asks this module what it is worth.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

OPERATOR = "operator"
SECRET_FILE = "studio-secret.key"  # in CHARLSTM_HOME, mode 0600, made on the studio's first start
_OWNER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$")
_KEY_RE = re.compile(r"^([A-Za-z0-9_-]{22,43})\.([0-9a-f]{32})$")  # random part . signature


def check_owner(owner: object) -> str:
    """The owner id itself; a missing or malformed one is a bug in the caller, never a user's mistake."""
    if not isinstance(owner, str) or not _OWNER_RE.match(owner):
        raise ValueError(f"A run needs an owner id (letters, digits, '_.:-'); got {owner!r}.")
    return owner


def hashed(kind: str, secret_value: str) -> str:
    """An owner id from something that must stay secret (a browser key, an account's subject)."""
    return f"{kind}-" + hashlib.sha256(secret_value.encode("utf-8")).hexdigest()[:32]


class KeyRing:
    """Makes and checks browser keys with a secret kept in the models' home folder.

    A key is `<random>.<hmac>`: a key someone types (`aaaaaaaaaaaaaaaa`) or one made by another studio
    fails the check, and a new one is issued instead.
    """

    def __init__(self, home: Path):
        self.path = Path(home) / SECRET_FILE
        self._secret = self._load_or_make()

    def _load_or_make(self) -> bytes:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # one writer wins
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(secrets.token_hex(32))
                fh.flush()
                os.fsync(fh.fileno())
        secret = self.path.read_text(encoding="ascii").strip()
        if len(secret) < 32:  # a file cut short by a crash at the first start: make it again
            self.path.unlink(missing_ok=True)
            return self._load_or_make()
        return secret.encode("ascii")

    def _sign(self, random_part: str) -> str:
        return hmac.new(self._secret, random_part.encode("ascii"), hashlib.sha256).hexdigest()[:32]

    def new_key(self) -> str:
        random_part = secrets.token_urlsafe(24)
        return f"{random_part}.{self._sign(random_part)}"

    def valid(self, key: object) -> bool:
        match = _KEY_RE.match(key) if isinstance(key, str) else None
        return match is not None and hmac.compare_digest(match.group(2), self._sign(match.group(1)))

    @staticmethod
    def owner_of(key: str) -> str:
        """The owner id a valid key stands for (only its hash is ever written to disk)."""
        return hashed("browser", key)
