"""TAU Urban Acoustic Scenes 2020 Mobile (development set) in its released layout.

::

    ROOT/meta.csv                          filename  scene_label  identifier  source_label
    ROOT/evaluation_setup/fold1_train.csv   filename  scene_label
    ROOT/evaluation_setup/fold1_evaluate.csv
    ROOT/audio/<scene>-<city>-<location>-<segment>-<device>.wav

All csv files are tab-separated with a header row. Loading reads only the csv files and
one ``stat`` per wav, so it works on the 30 GB release without touching the audio; the
audio is decoded later, clip by clip, by :mod:`tinyasc.data.features`.
"""

from __future__ import annotations

import csv
import enum
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tinyasc.contract import DEVICES, SCENE_LABELS, city_of, device_of
from tinyasc.errors import InputError

log = logging.getLogger(__name__)

META_CSV = "meta.csv"
SETUP_DIR = "evaluation_setup"
META_HEADER = ("filename", "scene_label", "identifier", "source_label")
FOLD_HEADER = ("filename", "scene_label")


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

    def clip_seconds(self) -> float:
        """Duration of the clips (seconds), read from the first wav header (TAU: 10.0)."""
        import soundfile as sf

        if not self.records:
            raise InputError(self.root, "dataset has no clips")
        first_error = None
        for rec in self.records[:16]:  # a corrupt first file (to be skipped later) is not fatal here
            try:
                info = sf.info(str(rec.path))
            except (RuntimeError, OSError) as exc:
                first_error = first_error or InputError(rec.path, f"not a readable audio file ({_sf_message(exc)})")
                continue
            if info.frames > 0:
                return round(info.frames / info.samplerate, 6)
        raise first_error or InputError(self.records[0].path, "audio file holds no samples")

    def by_device(self, split: str | Split = Split.ALL) -> Counter:
        """Clip count per device of a split (for summaries)."""
        return Counter(r.device for r in self.split(split))


def _sf_message(exc: BaseException) -> str:
    return str(getattr(exc, "error_string", None) or exc).strip().rstrip(".")


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


def load_tau(root: str | Path, *, skip_bad: bool = False) -> TauDataset:
    """Parse a TAU 2020 Mobile directory.

    Broken input (missing csv, unknown label or device, a listed wav that is missing or
    empty, a fold row not in ``meta.csv``) raises :class:`InputError` naming the file and the
    problem; with ``skip_bad`` the row is dropped and recorded in ``dataset.skipped``.
    Corrupt or truncated audio is found when it is decoded (``build_feature_set``).
    """
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise InputError(root, "dataset directory not found")
    meta_rows = _read_tsv(root / META_CSV, META_HEADER)
    records: list[ClipRecord] = []
    skipped: list[tuple[str, str]] = []
    seen: set[str] = set()
    for lineno, row in meta_rows:
        try:
            if row["filename"] in seen:
                raise InputError(root / META_CSV, f"line {lineno}: duplicate file {row['filename']}")
            rec = _check_row(root, lineno, row)
        except InputError as err:
            if not skip_bad:
                raise
            about_wav = err.path is not None and Path(err.path).name == Path(row["filename"]).name
            skipped.append((row["filename"], err.problem if about_wav else str(err)))
            continue
        seen.add(rec.filename)
        records.append(rec)
    if not records:
        raise InputError(root / META_CSV, "no usable rows")

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
                if not skip_bad:
                    raise InputError(csv_path, problem)
                skipped.append((name, f"{csv_path}: {problem}"))
                split_skips.append(skipped[-1])
                continue
            names.append(name)
        splits[split.value] = names
        skipped_by_split[split.value] = split_skips

    ds = TauDataset(root=root, records=records, splits=splits, skipped=skipped, skipped_by_split=skipped_by_split)
    log.info(
        "%s: %d clips (train %d, evaluate %d)%s",
        root,
        len(records),
        len(splits["train"]),
        len(splits["evaluate"]),
        f", {len(skipped)} bad rows skipped" if skipped else "",
    )
    return ds
