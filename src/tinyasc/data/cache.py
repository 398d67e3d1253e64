"""Feature cache: a split's log-mels extracted once, in parallel, into a float16 memmap.

Layout under ``cache_dir`` (default ``<dataset>/.tinyasc_cache``)::

    <split>-<key>/features.f16   raw float16, shape (N, n_mels, n_frames), C order
    <split>-<key>/meta.json      shape, labels, devices, cities, file names, config, skipped
    .<split>-<key>.partial/      an extraction in progress (never read as a cache)

``key`` hashes the feature config, and every clip's name, label, size and mtime, so a
changed config or file list (or a rewritten wav) gets a new cache. A run extracts into the
``.partial`` directory, records finished clips in ``done.npy`` as it goes, and renames the
directory into place only when every clip is written: a killed run leaves no valid-looking
cache, and the next run with the same key resumes from the finished clips.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import itertools
import os
import shutil
import time
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from tinyasc import atomic
from tinyasc.contract import FeatureConfig
from tinyasc.data.features import log_notes_once, logmel, read_audio
from tinyasc.data.integrity import bad_files_error, listing, off_length, scan_headers
from tinyasc.data.tau import ClipRecord, Split, TauDataset
from tinyasc.errors import InputError

log = logging.getLogger(__name__)

CACHE_FORMAT = "tinyasc-features/1"
CACHE_DIRNAME = ".tinyasc_cache"
_BATCH = 16  # clips per progress update
_SAVE_EVERY_S = 2.0  # how often the partial store records progress (a kill loses at most this)


@dataclass
class FeatureSet:
    """Log-mel features of one split, memory-mapped from the cache."""

    features: np.ndarray
    """float16 memmap ``(N, n_mels, n_frames)``."""
    labels: np.ndarray
    """int64 ``(N,)`` class indices into ``SCENE_LABELS``."""
    devices: np.ndarray
    """str ``(N,)`` device ids."""
    cities: np.ndarray
    """str ``(N,)`` city names."""
    filenames: list[str]
    """File names as in ``meta.csv``, row order of ``features``."""
    feature_config: FeatureConfig
    """The front end that produced ``features``."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """``(file, problem)`` of bad files left out (``skip_bad``)."""
    off_length: list[tuple[str, float]] = field(default_factory=list)
    """``(file, seconds)`` of kept clips whose duration differs from the clip length (padded or cropped)."""
    path: Path | None = None
    """The cache directory this set was read from."""

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @classmethod
    def load(cls, path: str | Path) -> "FeatureSet":
        """Open a finished cache directory (memory-maps the features; reads nothing else big)."""
        path = Path(path)
        meta_path = path / "meta.json"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(meta_path, "feature cache not found") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(meta_path, f"unreadable feature cache ({exc})") from None
        if meta.get("format") != CACHE_FORMAT:
            raise InputError(meta_path, f"not a tinyasc feature cache (expected format {CACHE_FORMAT})")
        shape = tuple(meta["shape"])
        data_path = path / "features.f16"
        expected = int(np.prod(shape)) * 2
        if not data_path.is_file() or data_path.stat().st_size != expected:
            raise InputError(data_path, f"feature store is missing or not {expected} bytes")
        feats = np.memmap(data_path, dtype=np.float16, mode="r", shape=shape) if shape[0] else np.zeros(shape, np.float16)
        return cls(
            features=feats,
            labels=np.asarray(meta["labels"], dtype=np.int64),
            devices=np.asarray(meta["devices"], dtype=str),
            cities=np.asarray(meta["cities"], dtype=str),
            filenames=list(meta["filenames"]),
            feature_config=FeatureConfig.from_dict(meta["feature_config"]),
            skipped=[tuple(s) for s in meta.get("skipped", [])],
            off_length=[(str(f), float(sec)) for f, sec in meta.get("off_length", [])],
            path=path,
        )


def cache_key(records: list[ClipRecord], cfg: FeatureConfig) -> str:
    """Hash of the feature config and the clip list (name, label, size, mtime)."""
    h = hashlib.sha256()
    h.update(CACHE_FORMAT.encode())
    h.update(cfg.digest().encode())
    for r in records:
        try:
            st = r.path.stat()
            stamp = f"{st.st_size}:{st.st_mtime_ns}"
        except FileNotFoundError:
            stamp = "missing"
        h.update(f"\n{r.filename}\t{r.label}\t{stamp}".encode())
    return h.hexdigest()[:20]


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(path.parent, "another process is extracting this feature cache") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _clip(i: int, path: str, cfg: FeatureConfig) -> tuple:
    """``(index, float16 log-mel, notes)``, or ``(index, None, problem)`` for a bad file."""
    try:
        wave, notes = read_audio(path, cfg)
    except InputError as err:
        return i, None, err.problem
    return i, logmel(wave, cfg).numpy().astype(np.float16), notes


def _ordered(pool: ThreadPoolExecutor, todo: list[tuple[int, str]], cfg: FeatureConfig, ahead: int) -> Iterator[tuple]:
    """Finished clips in order, keeping at most ``ahead`` in flight (bounded memory)."""
    queue: deque = deque()
    it = iter(todo)
    for i, p in itertools.islice(it, ahead):
        queue.append(pool.submit(_clip, i, p, cfg))
    try:
        while queue:
            yield queue.popleft().result()
            nxt = next(it, None)
            if nxt is not None:
                queue.append(pool.submit(_clip, nxt[0], nxt[1], cfg))
    finally:
        for fut in queue:
            fut.cancel()


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """Clip-level parallelism instead of intra-op threads (measured: 2 intra-op threads on
    one 10 s clip cost ~2x the CPU of two single-threaded clips); restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def build_feature_set(
    dataset: TauDataset,
    split: str | Split,
    cfg: FeatureConfig,
    *,
    cache_dir: Path | None = None,
    workers: int | None = None,
    skip_bad: bool = False,
    progress: bool = True,
) -> FeatureSet:
    """Features of a split from the cache, extracting (or resuming) them first if needed.

    A bad clip raises :class:`InputError` naming it; with ``skip_bad`` it is left out and
    listed in ``FeatureSet.skipped`` (together with rows ``load_tau`` skipped).
    """
    split = Split(split)
    records = dataset.split(split)
    cache_dir = Path(cache_dir) if cache_dir is not None else dataset.root / CACHE_DIRNAME
    earlier_skips = dataset.skipped_in(split)
    if earlier_skips and not skip_bad:
        raise bad_files_error(dataset.root, earlier_skips)
    if not records:
        raise InputError(dataset.root, f"split {split.value!r} has no usable clips")
    key = cache_key(records, cfg)
    final = cache_dir / f"{split.value}-{key}"
    if (final / "meta.json").is_file():
        fs = FeatureSet.load(final)
        if fs.skipped and not skip_bad:
            raise bad_files_error(dataset.root, [(str(dataset.root / f), p) for f, p in fs.skipped])
        log.info("feature cache hit: %s (%d clips)", final, len(fs))
        _warn_off_length(fs.off_length, cfg, split)
        return fs

    partial = cache_dir / f".{split.value}-{key}.partial"
    with _locked(cache_dir / f".{split.value}-{key}.lock"):
        if (final / "meta.json").is_file():  # another process finished while we waited
            return FeatureSet.load(final)
        shape = (len(records), cfg.n_mels, cfg.n_frames)
        # every header first: a strict run names all bad files in one error, --skip-bad skips exactly them
        heads = scan_headers([(r.filename, r.path) for r in records])
        bad = {i: h.problem for i, h in enumerate(heads) if h.problem is not None}
        if bad and not skip_bad:
            raise bad_files_error(dataset.root, [(str(records[i].path), p) for i, p in bad.items()])
        odd = off_length(heads, cfg.clip_seconds)
        _warn_off_length(odd, cfg, split)
        problems = _extract(records, cfg, partial, shape, workers=workers, skip_bad=skip_bad, progress=progress,
                            desc=f"features {split.value}", known_bad=bad)
        _finalise(partial, final, records, cfg, shape, problems, earlier_skips, odd)
    fs = FeatureSet.load(final)
    log.info("feature cache written: %s (%d clips%s)", final, len(fs),
             f", {len(fs.skipped)} skipped" if fs.skipped else "")
    for f, problem in fs.skipped:
        log.warning("skipped %s: %s", f, problem)
    return fs


def _warn_off_length(odd: list[tuple[str, float]], cfg: FeatureConfig, split: Split) -> None:
    """One WARNING for the group of clips whose duration is not the clip length."""
    if odd:
        log.warning("%s: %d clip(s) are not %g s long and are padded or cropped to it: %s", split.value, len(odd),
                    cfg.clip_seconds, listing([f"{f} ({sec:g} s)" for f, sec in odd]))


def _extract(
    records: list[ClipRecord],
    cfg: FeatureConfig,
    partial: Path,
    shape: tuple[int, int, int],
    *,
    workers: int | None,
    skip_bad: bool,
    progress: bool,
    desc: str,
    known_bad: dict[int, str] | None = None,
) -> dict[int, str]:
    """Fill ``partial/features.f16``; returns {index: problem} of bad clips (``skip_bad``).

    ``known_bad`` (clips whose header is bad) are recorded as problems without decoding. A
    strict run decodes every clip, then raises one :class:`InputError` naming all bad ones.
    """
    from tqdm import tqdm

    partial.mkdir(parents=True, exist_ok=True)
    data_path, done_path, prob_path = partial / "features.f16", partial / "done.npy", partial / "problems.json"
    done = np.zeros(shape[0], dtype=bool)
    problems: dict[int, str] = {}
    if data_path.is_file() and data_path.stat().st_size == int(np.prod(shape)) * 2 and done_path.is_file():
        with contextlib.suppress(Exception):
            prev = np.load(done_path, allow_pickle=False)
            if prev.shape == done.shape:
                done = prev.astype(bool)
                if prob_path.is_file():
                    problems = {int(k): v for k, v in json.loads(prob_path.read_text()).items()}
                log.info("resuming feature extraction: %d of %d clips already done", int(done.sum()), shape[0])
    else:
        with open(data_path, "wb") as fh:
            fh.truncate(int(np.prod(shape)) * 2)
    store = np.memmap(data_path, dtype=np.float16, mode="r+", shape=shape)
    for i, problem in (known_bad or {}).items():
        problems[i], done[i] = problem, True
    todo = [(i, str(records[i].path)) for i in np.flatnonzero(~done)]
    notes: dict[str, list[str]] = defaultdict(list)
    last_save = time.monotonic()

    def save_progress() -> None:
        store.flush()
        with atomic.atomic_path(done_path) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, done)
        atomic.write_text(prob_path, json.dumps({str(k): v for k, v in problems.items()}))

    def take(results: list[tuple]) -> None:
        nonlocal last_save
        for i, feats, extra in results:
            if feats is None:  # a strict run still decodes the rest, to name every bad clip at once
                problems[i] = extra
            else:
                store[i] = feats
                for kind in extra:
                    notes[kind].append(records[i].filename)
            done[i] = True
        bar.update(len(results))
        if time.monotonic() - last_save > _SAVE_EVERY_S:
            save_progress()
            last_save = time.monotonic()

    # libsndfile, soxr and torch release the GIL: a thread pool runs whole clips in parallel
    # (decode, resample, STFT, mel) without paying a process start (torch + librosa imports,
    # seconds each here) or risking torch + fork; the main thread writes the store.
    n_threads = max(1, workers or default_workers())
    with tqdm(total=shape[0], initial=int(done.sum()), desc=desc, unit="clip", disable=not progress) as bar, \
            _torch_threads(1), ThreadPoolExecutor(n_threads, thread_name_prefix="features") as pool:
        batch: list[tuple] = []
        try:
            for item in _ordered(pool, todo, cfg, ahead=4 * n_threads):
                batch.append(item)
                if len(batch) == _BATCH:
                    take(batch)
                    batch = []
            if batch:
                take(batch)
        finally:  # Ctrl-C or a bad file: keep every finished clip for the next run
            save_progress()
    log_notes_once(notes)
    if problems and not skip_bad:
        raise bad_files_error(records[0].path.parent, [(str(records[i].path), p) for i, p in sorted(problems.items())])
    return problems


def _finalise(
    partial: Path,
    final: Path,
    records: list[ClipRecord],
    cfg: FeatureConfig,
    shape: tuple[int, int, int],
    problems: dict[int, str],
    earlier_skips: list[tuple[str, str]],
    odd: list[tuple[str, float]],
) -> None:
    """Compact out bad clips, write meta.json, rename the partial directory into place."""
    keep = [i for i in range(shape[0]) if i not in problems]
    data_path = partial / "features.f16"
    if problems:
        src = np.memmap(data_path, dtype=np.float16, mode="r", shape=shape)
        compact = partial / "features.compact"
        dst = np.memmap(compact, dtype=np.float16, mode="w+", shape=(len(keep),) + shape[1:]) if keep else None
        for j, i in enumerate(keep):
            dst[j] = src[i]
        if dst is not None:
            dst.flush()
        else:
            compact.write_bytes(b"")
        del src, dst
        os.replace(compact, data_path)
    kept = [records[i] for i in keep]
    bad_names = {records[i].filename for i in problems}
    meta = {
        "format": CACHE_FORMAT,
        "shape": [len(kept), shape[1], shape[2]],
        "feature_config": cfg.to_dict(),
        "filenames": [r.filename for r in kept],
        "labels": [r.label for r in kept],
        "devices": [r.device for r in kept],
        "cities": [r.city for r in kept],
        "skipped": [list(s) for s in earlier_skips] + [[records[i].filename, p] for i, p in sorted(problems.items())],
        "off_length": [[f, sec] for f, sec in odd if f not in bad_names],
    }
    if not kept:  # nothing to cache; the partial store stays for a rerun to report again
        raise InputError(records[0].path.parent, f"every clip of the split is bad (first: {records[0].filename}: "
                         f"{problems[0]})")
    for name in ("done.npy", "problems.json"):
        with contextlib.suppress(FileNotFoundError):
            (partial / name).unlink()
    atomic.write_json(partial / "meta.json", meta)
    if final.exists():  # a stale, incomplete directory under the final name
        shutil.rmtree(final)
    os.replace(partial, final)
