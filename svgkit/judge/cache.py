"""A content-addressed sqlite cache of valid verdicts (a rerun makes no calls)."""

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from ..config import JUDGE
from .records import Verdict

__all__ = ["JudgeCache"]


class JudgeCache:
    """Content-addressed verdict cache in sqlite.

    The key hashes the judge identity (kind, model, endpoint, mode), the prompt version, the
    image bytes (and SVG for judges that read it) and the requirements, so a changed prompt
    or picture never reuses an old verdict. Only valid verdicts are stored.

    Args:
        path: The sqlite file. Default: ``$SVGKIT_JUDGE_CACHE`` if set, else
            ``judge-cache.sqlite`` in the user cache directory (platformdirs).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        if path is None:
            env = os.environ.get("SVGKIT_JUDGE_CACHE")
            if env:
                path = Path(env).expanduser()
            else:
                from platformdirs import user_cache_dir

                path = Path(user_cache_dir("svgkit")) / JUDGE.cache_filename
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as con:
            con.execute("CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, judge TEXT, "
                        "verdict TEXT NOT NULL, created REAL)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    @staticmethod
    def key(identity: str, prompt_version: str, image: bytes, requirements: Sequence[str],
            svg: str | None = None) -> str:
        """The cache key of one judgement."""
        h = hashlib.sha256()
        for part in (identity, prompt_version, hashlib.sha256(image).hexdigest(),
                     hashlib.sha256((svg or "").encode()).hexdigest(), json.dumps(list(requirements))):
            h.update(part.encode())
            h.update(b"\0")
        return h.hexdigest()

    def get(self, key: str) -> Verdict | None:
        """The cached verdict, or ``None``."""
        with self._lock, self._connect() as con:
            row = con.execute("SELECT verdict FROM verdicts WHERE key = ?", (key,)).fetchone()
        return Verdict.from_dict(json.loads(row[0])) if row else None

    def put(self, key: str, verdict: Verdict) -> None:
        """Store a valid verdict (invalid ones are ignored so they are retried next time)."""
        if not verdict.valid:
            return
        with self._lock, self._connect() as con:
            con.execute("INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?)",
                        (key, verdict.judge, json.dumps(verdict.to_dict()), time.time()))

    def __len__(self) -> int:
        with self._lock, self._connect() as con:
            return con.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]

    def clear(self) -> None:
        """Delete every cached verdict."""
        with self._lock, self._connect() as con:
            con.execute("DELETE FROM verdicts")
