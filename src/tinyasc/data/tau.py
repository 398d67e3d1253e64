"""TAU Urban Acoustic Scenes 2020 / 2022 Mobile (development sets) in their released layout.

::

    ROOT/meta.csv                          filename  scene_label  identifier  source_label
    ROOT/evaluation_setup/fold1_train.csv   filename  scene_label
    ROOT/evaluation_setup/fold1_evaluate.csv
    ROOT/audio/<scene>-<city>-<location>-<segment>-<device>.wav            (2020: 10-s clips)
    ROOT/audio/<scene>-<city>-<location>-<segment>-<part>-<device>.wav     (2022: 1-s parts of them)
    ROOT/split_setup/split5.csv ... split100.csv                           (DCASE 2024 training subsets)

All csv files are tab-separated with a header row. The 2022 release keeps the 2020 columns
and fold-1 files; only its names gain the 1-s part index (the device stays the last field,
the city the second) and its clips last 44032 samples at 44.1 kHz. DCASE 2024's split files
(``filename`` column) select subsets of fold-1 training (``load_tau(..., train_split=...)``).
Loading reads only the csv files and one ``stat`` per wav, so it works on the 30 GB release
without touching the audio; the audio is decoded later, clip by clip, by
:mod:`tinyasc.data.features`.
"""

from __future__ import annotations

import csv
import enum
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tinyasc.contract import DEVICES, SCENE_LABELS, city_of, device_of
from tinyasc.errors import InputError

if TYPE_CHECKING:
    from tinyasc.data.integrity import ClipLength

log = logging.getLogger(__name__)

META_CSV = "meta.csv"
SETUP_DIR = "evaluation_setup"
SPLIT_SETUP_DIR = "split_setup"
META_HEADER = ("filename", "scene_label", "identifier", "source_label")
FOLD_HEADER = ("filename", "scene_label")
SPLIT_HEADER = ("filename",)


class Split(str, enum.Enum):
    """Fold-1 splits of the development set (``all`` = every row of ``meta.csv``)."""

    TRAIN = "train"
    EVALUATE = "evaluate"
    ALL = "all"

    @property
    def csv_name(self) -> str | None:
        return None if self is Split.ALL else f"fold1_{self.value}.csv"


@dataclass(frozen=True)
class ClipRecord:
    """One row of ``meta.csv``."""

    filename: str
    """Relative name as written in the csv, e.g. ``audio/airport-barcelona-0-0-a.wav``."""
    path: Path
    """Absolute path of the wav."""
    scene: str
    """Scene label (one of :data:`tinyasc.contract.SCENE_LABELS`)."""
    label: int
    """Class index: ``SCENE_LABELS.index(scene)``."""
    device: str
    """Recording device (``a``, ``b``, ``c``, ``s1``..``s6``), the last dash field of the name."""
    city: str
    """City, the second dash field of the name."""
    identifier: str
    """Recording location, ``<city>-<location>``; segments of one location share a split."""


@dataclass
class TauDataset:
    """The parsed csv files of a TAU-layout directory (no audio is read)."""

    root: Path
    records: list[ClipRecord]
    """Every usable row of ``meta.csv``, in file order."""
    splits: dict[str, list[str]] = field(default_factory=dict)
    """Split name -> file names (as in the csv) of that fold-1 list."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """``(file, problem)`` for rows dropped by ``load_tau(..., skip_bad=True)``."""
    skipped_by_split: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    """The ``skipped`` entries that concern each fold-1 split."""
    train_split: Path | None = None
    """The split file (``--train-split``) that restricted the training split, if any."""

    def __post_init__(self) -> None:
        self._by_name = {r.filename: r for r in self.records}

    def split(self, name: str | Split) -> list[ClipRecord]:
        """Records of a fold-1 split (``train`` or ``evaluate``), or ``all``."""
        try:
            split = Split(name)
        except ValueError:
            raise InputError(None, f"unknown split {name!r} (choose from {[s.value for s in Split]})") from None
        if split is Split.ALL:
            return list(self.records)
        return [self._by_name[f] for f in self.splits[split.value] if f in self._by_name]

    def skipped_in(self, name: str | Split) -> list[tuple[str, str]]:
        """The ``skipped`` rows that belong to a split."""
        if Split(name) is Split.ALL:
            return list(self.skipped)
        return list(self.skipped_by_split.get(Split(name).value, []))

    def clip_length(self) -> "ClipLength":
        """The clip length of the dataset as a whole: the modal duration of a sample of wav headers.

        One truncated or odd file cannot change it; sampled files of another duration are
        named in a WARNING (see :mod:`tinyasc.data.integrity`).
        """
        from tinyasc.data.integrity import decide_clip_length

        return decide_clip_length([(r.filename, r.path) for r in self.records], self.root)

    def clip_seconds(self) -> float:
        """Duration of the clips in seconds (TAU 2020: 10.0; TAU 2022: 44032 / 44100), see :meth:`clip_length`."""
        return self.clip_length().seconds

    def by_device(self, split: str | Split = Split.ALL) -> Counter:
        """Clip count per device of a split (for summaries)."""
        return Counter(r.device for r in self.split(split))


def _read_tsv(path: Path, header: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """Rows of a tab-separated file with the expected header, as (line number, row)."""
    if not path.is_file():
        raise InputError(path, "csv file not found")
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh, delimiter="\t")
            first = next(reader, None)
            if first is None:
                raise InputError(path, "csv file is empty")
            got = tuple(c.strip() for c in first)
            if got[: len(header)] != header:
                raise InputError(path, f"unexpected header {list(got)} (expected {list(header)}, tab-separated)")
            rows = []
            for lineno, row in enumerate(reader, start=2):
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) < len(header):
                    raise InputError(path, f"line {lineno}: expected {len(header)} tab-separated fields, got {len(row)}")
                rows.append((lineno, {k: row[i].strip() for i, k in enumerate(header)}))
            return rows
    except UnicodeDecodeError:
        raise InputError(path, "csv file is not UTF-8 text") from None


def _check_row(root: Path, lineno: int, row: dict[str, str]) -> ClipRecord:
    """Validate one meta.csv row; raises ``InputError`` naming the wav (or the csv line)."""
    name = row["filename"]
    if not name or any(ord(c) < 32 for c in name):
        raise InputError(root / META_CSV, f"line {lineno}: file name {name!r} is empty or holds control characters")
    path = (root / name).resolve()
    scene = row["scene_label"]
    if scene not in SCENE_LABELS:
        raise InputError(root / META_CSV, f"line {lineno}: unknown scene label {scene!r} for {name}")
    device = device_of(name)
    if device not in DEVICES:
        raise InputError(root / META_CSV, f"line {lineno}: unknown device {device!r} in file name {name}")
    source = row["source_label"]
    if source and source != device:
        raise InputError(root / META_CSV, f"line {lineno}: source_label {source!r} disagrees with file name {name}")
    if not Path(name).stem.startswith(scene + "-"):
        raise InputError(root / META_CSV, f"line {lineno}: scene label {scene!r} disagrees with file name {name}")
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError(path, "audio file not found (listed in meta.csv)") from None
    except OSError as exc:  # a name too long, a path through a file...
        raise InputError(path, f"audio file cannot be read ({exc.strerror or exc})") from None
    if size == 0:
        raise InputError(path, "audio file is empty (0 bytes)")
    return ClipRecord(
        filename=name,
        path=path,
        scene=scene,
        label=SCENE_LABELS.index(scene),
        device=device,
        city=city_of(name),
        identifier=row["identifier"],
    )


def load_tau(root: str | Path, *, skip_bad: bool = False, train_split: str | Path | None = None) -> TauDataset:
    """Parse a TAU 2020 or 2022 Mobile development directory.

    Broken rows (unknown label or device, a listed wav that is missing or empty, a fold row
    not in ``meta.csv``) are all collected first: a strict run raises one
    :class:`InputError` naming every one of them (:func:`~tinyasc.data.integrity.bad_files_error`);
    with ``skip_bad`` they are dropped and recorded in ``dataset.skipped``. A missing or
    malformed csv file stops at once. ``train_split`` (a DCASE 2024 ``split25.csv``...)
    restricts the training split to the files it lists (:func:`restrict_train_split`).
    Corrupt or truncated audio is found from the headers before extraction (``build_feature_set``).
    """
    from tinyasc.data.integrity import bad_files_error

    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise InputError(root, "dataset directory not found")
    meta_rows = _read_tsv(root / META_CSV, META_HEADER)
    records: list[ClipRecord] = []
    skipped: list[tuple[str, str]] = []
    errors: list[InputError] = []
    seen: set[str] = set()
    for lineno, row in meta_rows:
        try:
            if row["filename"] in seen:
                raise InputError(root / META_CSV, f"line {lineno}: duplicate file {row['filename']}")
            rec = _check_row(root, lineno, row)
        except InputError as err:
            about_wav = err.path is not None and Path(err.path).name == Path(row["filename"]).name
            skipped.append((row["filename"], err.problem if about_wav else str(err)))
            errors.append(err)
            continue
        seen.add(rec.filename)
        records.append(rec)

    bad_names = {f for f, _ in skipped}
    by_name = {r.filename: r for r in records}
    splits: dict[str, list[str]] = {}
    skipped_by_split: dict[str, list[tuple[str, str]]] = {}
    for split in (Split.TRAIN, Split.EVALUATE):
        csv_path = root / SETUP_DIR / split.csv_name
        names: list[str] = []
        split_skips: list[tuple[str, str]] = []
        for lineno, row in _read_tsv(csv_path, FOLD_HEADER):
            name = row["filename"]
            if name in bad_names:  # its meta.csv row was skipped
                split_skips.extend(s for s in skipped if s[0] == name)
                continue
            problem = None
            if name not in seen:
                problem = f"line {lineno}: {name} is not listed in meta.csv"
            elif row["scene_label"] not in SCENE_LABELS:
                problem = f"line {lineno}: unknown scene label {row['scene_label']!r} for {name}"
            elif row["scene_label"] != by_name[name].scene:
                problem = (f"line {lineno}: scene label {row['scene_label']!r} for {name} disagrees with "
                           f"meta.csv ({by_name[name].scene!r})")
            if problem:
                skipped.append((name, f"{csv_path}: {problem}"))
                errors.append(InputError(csv_path, problem))
                split_skips.append(skipped[-1])
                continue
            names.append(name)
        splits[split.value] = names
        skipped_by_split[split.value] = split_skips
    if errors and not skip_bad:
        raise bad_files_error(root, skipped, errors)
    if not records:
        raise InputError(root / META_CSV, "no usable rows")

    ds = TauDataset(root=root, records=records, splits=splits, skipped=skipped, skipped_by_split=skipped_by_split)
    if train_split is not None:
        restrict_train_split(ds, resolve_split_file(root, train_split), skip_bad=skip_bad)
    log.info(
        "%s: %d clips (train %d, evaluate %d)%s%s",
        root,
        len(records),
        len(ds.splits["train"]),
        len(ds.splits["evaluate"]),
        f", training split {ds.train_split}" if ds.train_split else "",
        f", {len(ds.skipped)} bad rows skipped" if ds.skipped else "",
    )
    return ds


def resolve_split_file(root: Path, name: str | Path) -> Path:
    """A split file as given, else under ``root/split_setup/`` (where DCASE 2024's ``split25.csv``... live)."""
    path = Path(name).expanduser()
    if path.is_file():
        return path.resolve()
    beside = root / SPLIT_SETUP_DIR / path.name
    if not path.is_absolute() and beside.is_file():
        return beside
    raise InputError(path, f"split file not found (also looked for {beside})")


def restrict_train_split(ds: TauDataset, split_file: Path, *, skip_bad: bool = False) -> None:
    """Keep only the training files that ``split_file`` lists (DCASE 2024 ``split5.csv``...``split100.csv``).

    The file is tab-separated with a ``filename`` column (further columns are ignored). Every
    listed file must be a usable clip of the fold-1 training split: a file that is absent
    from ``meta.csv``, belongs to the evaluation split or is listed twice is a bad row; a
    strict run names them all in one error, ``skip_bad`` skips and records them. Training
    order stays that of ``fold1_train.csv``, so ``split100.csv`` gives the same clips (and
    feature cache) as no split file.
    """
    from tinyasc.data.integrity import bad_files_error

    train = set(ds.splits["train"])
    evaluate = set(ds.splits["evaluate"])
    known = {r.filename for r in ds.records}
    already_bad = {f for f, _ in ds.skipped}
    wanted: set[str] = set()
    bad: list[tuple[str, str]] = []
    errors: list[InputError] = []
    for lineno, row in _read_tsv(split_file, SPLIT_HEADER):
        name = row["filename"]
        problem = None
        if name in wanted:
            problem = f"line {lineno}: {name} is listed twice"
        elif name in train:
            wanted.add(name)
        elif name in already_bad:  # its meta.csv or fold row was skipped (and is listed already)
            continue
        elif name in evaluate:
            problem = f"line {lineno}: {name} belongs to the evaluation split (fold1_evaluate.csv), not training"
        elif name in known:
            problem = f"line {lineno}: {name} is not in the fold-1 training split (fold1_train.csv)"
        else:
            problem = f"line {lineno}: {name} is not in the dataset (absent from meta.csv)"
        if problem:
            bad.append((name, f"{split_file}: {problem}"))
            errors.append(InputError(split_file, problem))
    if bad and not skip_bad:
        raise bad_files_error(split_file, bad, errors)
    if not wanted:
        raise InputError(split_file, "lists no usable clip of the training split")
    ds.splits["train"] = [n for n in ds.splits["train"] if n in wanted]
    ds.skipped.extend(bad)
    ds.skipped_by_split.setdefault("train", []).extend(bad)
    ds.train_split = split_file
