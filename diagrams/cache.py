"""Rendered charts and posters, cached by what they are drawn from.

The key holds the definition's content hash and version, the format, the paper, the village
details and the print date, so a new definition version (or a new day) gives a new poster.
An in-memory LRU serves repeats within a process; an optional folder (the app's instance
folder) keeps posters across processes and restarts.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import OrderedDict
from pathlib import Path


def _renderer_digest() -> str:
    """Changes whenever the drawing code changes, so an upgrade never serves old posters."""
    digest = hashlib.sha256()
    folder = Path(__file__).resolve().parent
    for path in sorted([*folder.glob("*.py"), *folder.glob("templates/*")]):  # the posters' HTML too
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


RENDERER = _renderer_digest()


def cache_key(*parts) -> str:
    raw = json.dumps([RENDERER, *parts], ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


class RenderCache:
    def __init__(self, directory: Path | None = None, max_items: int = 128, max_bytes: int = 96 * 1024 * 1024,
                 max_files: int = 2000):
        self.directory = Path(directory) if directory else None
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.max_files = max_files
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    # -- memory -------------------------------------------------------------------------------
    def _remember(self, key: str, data: bytes) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old)
            self._items[key] = data
            self._bytes += len(data)
            while self._items and (len(self._items) > self.max_items or self._bytes > self.max_bytes):
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped)

    def _recall(self, key: str) -> bytes | None:
        with self._lock:
            data = self._items.get(key)
            if data is not None:
                self._items.move_to_end(key)
            return data

    # -- files --------------------------------------------------------------------------------
    def _path(self, key: str, name: str) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / f"{name}-{key}"

    def _read(self, path: Path | None) -> bytes | None:
        if path is None:
            return None
        try:
            return path.read_bytes()
        except OSError:
            return None

    def _write(self, path: Path | None, data: bytes) -> None:
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)  # atomic: a reader never sees half a file
            self._prune(path.parent)
        except OSError:  # a read-only or full disk only costs us the file cache
            return

    def _prune(self, folder: Path) -> None:
        files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
        if len(files) <= self.max_files:
            return
        files.sort(key=lambda p: p.stat().st_mtime)
        for path in files[: len(files) - self.max_files]:
            path.unlink(missing_ok=True)

    # -- the one call -------------------------------------------------------------------------
    def get_or_render(self, key: str, name: str, render, *, persist: bool = True) -> bytes:
        """``render()`` once per key; ``name`` (e.g. ``major-decision-v3.pdf``) names the file."""
        data = self._recall(key)
        if data is not None:
            self.hits += 1
            return data
        path = self._path(key, name) if persist else None
        data = self._read(path)
        if data is None:
            self.misses += 1
            data = render()
            self._write(path, data)
        else:
            self.hits += 1
        self._remember(key, data)
        return data

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
