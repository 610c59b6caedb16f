"""Converted YOLO folder -> self-contained train/val[/test] dataset (stratified, optionally grouped).

``assign_splits`` is the pure assignment (a coverage search, then iterative stratification);
``split_dataset`` reads and writes the folders. Guarantees, options and outputs: ``README.md``.
"""

from __future__ import annotations

import logging
import os
import random
import re
import re._parser as sre_parse  # the standard library's own regex parser (no third-party dependency)
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from components._shared.dataset import IMAGE_SUFFIXES, label_path, read_label_file, read_list
from components._shared.errors import ConfigError, DatasetError
from components._shared.fsio import guard_out_dir, link_or_copy, staged_dir, write_json_atomic

log = logging.getLogger(__name__)

_ANY = -1  # pseudo-class held by every group: "this split must not be empty"
_BACKGROUND = -2  # pseudo-label of background images in the fill phase
_SEARCH_BUDGET = 50_000  # placements tried by the coverage search before it settles for greedy
MIN_GROUPS_FOR_TEST = 20  # below this many images (groups) a test split is too small to judge a model by


@dataclass(frozen=True)
class SplitConfig:
    """Options of ``split_dataset``.

    Attributes:
        val: fraction of images for validation (picks the best epoch), in (0, 1).
        test: fraction held out for the gate, in [0, 1); none at 0 or below ``MIN_GROUPS_FOR_TEST`` groups.
        seed: seed of the generator; the same seed and labels give the same split.
        group: regex; images whose stems share its first capture group stay in one split.
        overwrite: replace an ``out_dir`` that holds files this stage did not write.
    """

    val: float = 0.15
    test: float = 0.15
    seed: int = 0
    group: str | None = None
    overwrite: bool = False

    def ratios(self) -> dict[str, float]:
        """Target fraction of each split that is written (test only when ``test > 0``)."""
        ratios = {"train": 1.0 - self.val - self.test, "val": self.val}
        if self.test > 0:
            ratios["test"] = self.test
        return ratios


@dataclass(frozen=True)
class SplitItem:
    """One image as the split sees it: its unique file name and the class id of every box it holds."""

    name: str
    classes: tuple[int, ...] = ()


@dataclass(frozen=True)
class SplitResult:
    """What ``split_dataset`` wrote; the full counts are in ``out_dir/split.json``."""

    out_dir: Path
    dataset_yaml: Path
    images: int
    groups: int
    classes: int
    counts: dict[str, int]
    background: dict[str, int]
    uncovered: tuple[str, ...]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (paths as strings, tuples as lists)."""
        d = asdict(self)
        d["out_dir"] = str(self.out_dir)
        d["dataset_yaml"] = str(self.dataset_yaml)
        d["uncovered"] = list(self.uncovered)
        return d


@dataclass
class _Group:
    key: str
    names: list[str]
    class_images: dict[int, int]  # class id (or _BACKGROUND) -> images of this group holding it


def validate_config(cfg: SplitConfig) -> re.Pattern[str] | None:
    """Check the ratios and the group regex; return the compiled regex (``None`` without grouping).

    Raises:
        ConfigError: a ratio out of range, ``val + test >= 1``, or a bad regex (README.md, "Errors").
    """
    if not 0.0 < cfg.val < 1.0:
        raise ConfigError(f"val={cfg.val} must be in (0, 1), e.g. --val 0.2 (Ultralytics needs a val split)")
    if not 0.0 <= cfg.test < 1.0:
        raise ConfigError(f"test={cfg.test} must be in [0, 1), e.g. --test 0.1 (0 for no test split)")
    if cfg.val + cfg.test >= 1.0:
        raise ConfigError(f"val + test = {cfg.val + cfg.test:g} leaves nothing to train on; keep it below 1")
    if not cfg.group:
        return None
    try:
        pattern = re.compile(cfg.group)
    except re.error as err:
        raise ConfigError(f"group regex {cfg.group!r} does not compile ({err}); fix or drop --group") from err
    if pattern.groups < 1:
        raise ConfigError(
            f"group regex {cfg.group!r} has no capture group; wrap the shared part in (), e.g. '^(.+)_\\d+$'"
        )
    if _has_nested_repeat(sre_parse.parse(cfg.group)):
        raise ConfigError(
            f"group regex {cfg.group!r} has a nested repeat (a repeated part inside a repeated part, as in "
            "(a+)+), which can take exponential time per name; repeat each part once, e.g. '^(.+)_\\d+$'"
        )
    return pattern


_REPEATS = frozenset({sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, sre_parse.POSSESSIVE_REPEAT})


def _has_nested_repeat(parsed: sre_parse.SubPattern | list[Any], inside: bool = False) -> bool:
    """True when a part that repeats holds another such part (``^(a+)+$``: exponential time); ``re``
    cannot be interrupted, so such a pattern is refused up front instead of being timed."""
    for op, arg in parsed:
        if op in _REPEATS:
            _, high, body = arg
            many = high > 1  # MAXREPEAT (unbounded) included
            if many and inside:
                return True
            if _has_nested_repeat(body, inside or many):
                return True
        elif op is sre_parse.SUBPATTERN:
            if _has_nested_repeat(arg[-1], inside):
                return True
        elif op is sre_parse.BRANCH:
            if any(_has_nested_repeat(branch, inside) for branch in arg[1]):
                return True
        elif op in (sre_parse.ASSERT, sre_parse.ASSERT_NOT, sre_parse.ATOMIC_GROUP):
            body = arg[-1] if isinstance(arg, tuple) else arg
            if _has_nested_repeat(body, inside):
                return True
    return False


def group_key(stem: str, pattern: re.Pattern[str] | None) -> str:
    """Group of an image stem: the regex's first capture group, or the stem itself when it does not match."""
    if pattern is not None:
        m = pattern.search(stem)
        if m is not None and m.group(1) is not None:
            return "g:" + m.group(1)
    return "s:" + stem  # prefixes keep a group named "x" apart from an unmatched stem "x"


def _build_groups(items: Sequence[SplitItem], pattern: re.Pattern[str] | None) -> list[_Group]:
    """Groups sorted by key, names sorted within each: the input order no longer matters."""
    by_key: dict[str, _Group] = {}
    seen: set[str] = set()
    for item in items:
        if item.name in seen:
            raise DatasetError(f"image name {item.name!r} appears twice; names must be unique")
        seen.add(item.name)
        key = group_key(_stem(item.name), pattern)
        group = by_key.setdefault(key, _Group(key, [], {}))
        group.names.append(item.name)
        for c in set(item.classes) or {_BACKGROUND}:
            group.class_images[c] = group.class_images.get(c, 0) + 1
    groups = [by_key[k] for k in sorted(by_key)]
    for g in groups:
        g.names.sort()
    return groups


def coverage_requirements(class_groups: Mapping[int, int], splits: Sequence[str]) -> list[tuple[int, str]]:
    """The (class, split) pairs to cover: a class in >= 2 groups in train and val, in >= 3 also in test."""
    reqs = []
    for c in sorted(class_groups):
        n = class_groups[c]
        needed = [s for s, k in (("train", 2), ("val", 2), ("test", 3)) if s in splits and n >= k]
        reqs += [(c, s) for s in needed]
    return reqs


class _Coverage:
    """Depth-first search placing groups until every (class, split) requirement holds."""

    def __init__(self, groups: list[_Group], order: list[int], splits: Sequence[str]):
        self.classes = [[c for c in sorted(g.class_images) if c >= 0] + [_ANY] for g in groups]
        self.members: dict[int, list[int]] = {_ANY: list(order)}
        for gi in order:
            for c in self.classes[gi][:-1]:
                self.members.setdefault(c, []).append(gi)
        self.free = {c: len(m) for c, m in self.members.items()}
        counts = {c: n for c, n in self.free.items() if c != _ANY}
        self.reqs = coverage_requirements(counts, splits) + [(_ANY, s) for s in splits]
        self.count = {(c, s): 0 for c, s in self.reqs}
        self.placed: dict[int, str] = {}
        self.gave_up = False  # True when the search ran out of budget (no proof that nothing fits)

    def _place(self, gi: int, split: str) -> None:
        self.placed[gi] = split
        for c in self.classes[gi]:
            self.free[c] -= 1
            if (c, split) in self.count:
                self.count[(c, split)] += 1

    def _unplace(self, gi: int) -> None:
        split = self.placed.pop(gi)
        for c in self.classes[gi]:
            self.free[c] += 1
            if (c, split) in self.count:
                self.count[(c, split)] -= 1

    def _next_requirement(self, skip: set[tuple[int, str]]) -> tuple[int, str] | None:
        """The unmet requirement with the fewest free candidate groups (``None`` when all are met)."""
        best = None
        for req in self.reqs:
            if (
                self.count[req] == 0
                and req not in skip
                and (best is None or self.free[req[0]] < self.free[best[0]])
            ):
                best = req
        return best

    def _candidate(self, c: int, start: int) -> int:
        """Index in ``members[c]`` of the first free group at or after ``start`` (len when none)."""
        members = self.members[c]
        while start < len(members) and members[start] in self.placed:
            start += 1
        return start

    def search(self, budget: int = _SEARCH_BUDGET) -> bool:
        """Exhaustive search, most constrained requirement first; True when all are met within ``budget``.

        Complete: a requirement (c, s) any placement meets is met by a group holding c in s, and every
        free group holding c is tried in s before the search backs up.
        """
        stack: list[tuple[tuple[int, str], int, int]] = []  # (requirement, position tried, group placed)
        req, start = self._next_requirement(set()), 0
        while req is not None:
            if budget <= 0:
                self.gave_up = True
                return False
            pos = self._candidate(req[0], start)
            if pos < len(self.members[req[0]]):
                gi = self.members[req[0]][pos]
                self._place(gi, req[1])
                budget -= 1
                stack.append((req, pos, gi))
                req, start = self._next_requirement(set()), 0
            elif stack:  # dead end: undo the last placement and try its next candidate
                req, pos, gi = stack.pop()
                self._unplace(gi)
                start = pos + 1
            else:
                return False
        return True

    def greedy(self) -> None:
        """Meet what can be met without backtracking; each split gets a group first, so none is empty."""
        for gi in list(self.placed):
            self._unplace(gi)
        for c, split in self.reqs:
            if c == _ANY and self.count[(c, split)] == 0:
                pos = self._candidate(_ANY, 0)
                if pos < len(self.members[_ANY]):
                    self._place(self.members[_ANY][pos], split)
        skip: set[tuple[int, str]] = set()
        while (req := self._next_requirement(skip)) is not None:
            pos = self._candidate(req[0], 0)
            if pos < len(self.members[req[0]]):
                self._place(self.members[req[0]][pos], req[1])
            else:
                skip.add(req)


def _fill(
    groups: list[_Group],
    order: list[int],
    placed: dict[int, str],
    ratios: Mapping[str, float],
    rng: random.Random,
) -> dict[int, str]:
    """Place the remaining groups by iterative stratification (rarest label first)."""
    n_images = sum(len(g.names) for g in groups)
    want_total = {s: r * n_images for s, r in ratios.items()}
    want: dict[int, dict[str, float]] = {}
    members: dict[int, list[int]] = {}
    for gi in order:
        for c, k in groups[gi].class_images.items():
            want.setdefault(c, dict.fromkeys(ratios, 0.0))
            for s, r in ratios.items():
                want[c][s] += r * k
            members.setdefault(c, []).append(gi)
    left = {c: len(m) for c, m in members.items()}

    out: dict[int, str] = {}

    def put(gi: int, split: str) -> None:
        out[gi] = split
        want_total[split] -= len(groups[gi].names)
        for c, k in groups[gi].class_images.items():
            want[c][split] -= k
            left[c] -= 1

    for gi, split in placed.items():
        put(gi, split)
    while left_labels := [c for c, n in left.items() if n > 0]:
        label = min(left_labels, key=lambda c: (left[c], c))
        for gi in members[label]:
            if gi not in out:
                best = max((want[label][s], want_total[s]) for s in ratios)
                tied = [s for s in ratios if (want[label][s], want_total[s]) == best]
                put(gi, tied[0] if len(tied) == 1 else rng.choice(tied))
    return out


def assign_splits(items: Sequence[SplitItem], cfg: SplitConfig) -> dict[str, list[str]]:
    """Assign every image to exactly one split: split name -> sorted image names (pure, no files).

    Raises:
        ConfigError: invalid ratios or group regex.
        DatasetError: duplicate names, or fewer images (groups) than splits.
    """
    pattern = validate_config(cfg)
    groups = _build_groups(items, pattern)
    splits = list(cfg.ratios())
    if len(groups) < len(splits):
        unit = "groups" if pattern is not None else "images"
        raise DatasetError(
            f"{len(groups)} {unit} cannot fill {len(splits)} splits ({', '.join(splits)}); "
            f"add images{', loosen --group' if pattern is not None else ''} or drop --test"
        )
    rng = random.Random(cfg.seed)
    order = list(range(len(groups)))
    rng.shuffle(order)
    coverage = _Coverage(groups, order, splits)
    if not coverage.search():
        why = (
            f"search stopped after {_SEARCH_BUDGET} steps"
            if coverage.gave_up
            else "the label layout allows none"
        )
        log.warning("no placement puts every class in every split (%s); keeping a greedy one", why)
        coverage.greedy()
    placed = _fill(groups, order, dict(coverage.placed), cfg.ratios(), rng)
    out: dict[str, list[str]] = {s: [] for s in splits}
    for gi, split in placed.items():
        out[split].extend(groups[gi].names)
    return {s: sorted(names) for s, names in out.items()}


def find_uncovered(
    items: Sequence[SplitItem], splits: Mapping[str, Iterable[str]], cfg: SplitConfig
) -> list[tuple[int, str]]:
    """The (class id, split) requirements a split leaves unmet; independent of ``assign_splits`` (tests)."""
    pattern = validate_config(cfg)
    where = {name: s for s, names in splits.items() for name in names}
    class_groups: dict[int, set[str]] = {}
    present: set[tuple[int, str]] = set()
    for item in items:
        for c in set(item.classes):
            class_groups.setdefault(c, set()).add(group_key(_stem(item.name), pattern))
            present.add((c, where[item.name]))
    counts = {c: len(g) for c, g in class_groups.items()}
    return [req for req in coverage_requirements(counts, list(splits)) if req not in present]


def _read_classes(data_dir: Path) -> tuple[str, ...]:
    path = data_dir / "classes.txt"
    if not path.is_file():
        raise DatasetError(f"{path}: not found; --converted must be the output folder of 'yolo-kfp convert'")
    names = tuple(read_list(path))
    if not names:
        raise DatasetError(f"{path}: no class names (one per line expected)")
    return names


def read_converted(data_dir: Path) -> tuple[tuple[str, ...], list[SplitItem], int]:
    """Read a convert output folder: class names, one item per image, and how many labels were missing."""
    images_dir = data_dir / "images"
    if not images_dir.is_dir():
        raise DatasetError(
            f"{images_dir}: not found; --converted must be the output folder of 'yolo-kfp convert'"
        )
    names = _read_classes(data_dir)
    files = sorted(
        e.name
        for e in os.scandir(images_dir)
        if not e.name.startswith(".") and os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES
    )
    stems: dict[str, str] = {}
    items, missing = [], 0
    for name in files:
        stem = os.path.splitext(name)[0]
        if stem in stems:
            raise DatasetError(f"{images_dir}: {stems[stem]} and {name} share the label file {stem}.txt")
        stems[stem] = name
        label = label_path(os.path.join(images_dir, name))
        boxes, errors = read_label_file(label, len(names)) or (None, [])
        if errors:
            raise DatasetError(f"{label}: {errors[0]}; fix the label (classes.txt) or re-run convert")
        missing += boxes is None
        items.append(SplitItem(name, tuple(box[0] for box in boxes or ())))
    if len(items) < 2:
        raise DatasetError(f"{images_dir}: {len(items)} image(s); a split needs at least 2")
    return names, items, missing


def _split_report(
    items: Sequence[SplitItem], splits: Mapping[str, list[str]], names: Sequence[str], cfg: SplitConfig
) -> dict[str, Any]:
    """The content of ``split.json``: counts per split and per class per split."""
    pattern = validate_config(cfg)
    where = {name: s for s, members in splits.items() for name in members}
    images = dict.fromkeys(splits, 0)
    background = dict.fromkeys(splits, 0)
    instances = dict.fromkeys(splits, 0)
    groups: dict[str, set[str]] = {s: set() for s in splits}
    per_class = {n: {s: {"images": 0, "instances": 0} for s in splits} for n in names}
    for item in items:
        s = where[item.name]
        images[s] += 1
        background[s] += not item.classes
        instances[s] += len(item.classes)
        groups[s].add(group_key(_stem(item.name), pattern))
        for c in set(item.classes):
            per_class[names[c]][s]["images"] += 1
            per_class[names[c]][s]["instances"] += item.classes.count(c)
    total = len(items)
    return {
        "seed": cfg.seed,
        "config": asdict(cfg),
        "images": images,
        "background": background,
        "instances": instances,
        "groups": {s: len(g) for s, g in groups.items()},
        "fractions": {s: round(n / total, 4) for s, n in images.items()},
        "classes": per_class,
        "uncovered": [{"class": names[c], "split": s} for c, s in find_uncovered(items, splits, cfg)],
    }


def _stem(name: str) -> str:
    return os.path.splitext(name)[0]


def tiny_dataset_rule(items: Sequence[SplitItem], cfg: SplitConfig) -> tuple[SplitConfig, str]:
    """``cfg`` without a test split when there are fewer than ``MIN_GROUPS_FOR_TEST`` groups, and why."""
    if cfg.test <= 0:
        return cfg, ""
    n = len(_build_groups(items, validate_config(cfg)))
    if n >= MIN_GROUPS_FOR_TEST:
        return cfg, ""
    note = (
        f"{n} images (groups) < {MIN_GROUPS_FOR_TEST}: no test split; the gate judges on val "
        f"(val {cfg.val + cfg.test:g} instead of {cfg.val:g})"
    )
    return replace(cfg, val=cfg.val + cfg.test, test=0.0), note


def _write_dataset(
    tmp: Path,
    data_dir: Path,
    items: Sequence[SplitItem],
    splits: Mapping[str, list[str]],
    names: Sequence[str],
) -> None:
    """Fill the staged folder: linked images and labels, list files, classes.txt, dataset.yaml."""
    (tmp / "images").mkdir()
    (tmp / "labels").mkdir()
    src_images, src_labels = os.fspath(data_dir / "images"), os.fspath(data_dir / "labels")
    dst_images, dst_labels = os.fspath(tmp / "images"), os.fspath(tmp / "labels")
    for item in items:  # plain strings: pathlib costs more than the links themselves at 20k images
        link_or_copy(os.path.join(src_images, item.name), os.path.join(dst_images, item.name))
        label = f"{_stem(item.name)}.txt"
        try:
            link_or_copy(os.path.join(src_labels, label), os.path.join(dst_labels, label))
        except FileNotFoundError:
            open(os.path.join(dst_labels, label), "w").close()  # background image without a label file
    for split, members in splits.items():
        (tmp / f"{split}.txt").write_text("".join(f"./images/{n}\n" for n in members), encoding="utf-8")
    (tmp / "classes.txt").write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
    spec: dict[str, Any] = {"path": ".", **{s: f"{s}.txt" for s in splits}}
    spec |= {"nc": len(names), "names": dict(enumerate(names))}
    (tmp / "dataset.yaml").write_text(
        yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )


def split_dataset(data_dir: Path, out_dir: Path, cfg: SplitConfig = SplitConfig()) -> SplitResult:  # noqa: B008
    """Split convert's output into a self-contained train/val[/test] dataset (README.md, "Output").

    Raises:
        ConfigError: invalid ratios or regex, or ``out_dir`` overlaps ``data_dir`` or holds foreign files.
        DatasetError: not a convert output, a bad label line, or too few images.
    """
    t0 = time.perf_counter()
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    validate_config(cfg)
    guard_out_dir(out_dir, [data_dir], overwrite=cfg.overwrite)
    names, items, missing = read_converted(data_dir)
    cfg, test_dropped = tiny_dataset_rule(items, cfg)
    if test_dropped:
        log.warning("%s", test_dropped)
    if missing:
        log.warning(
            "%d image(s) have no label file in %s; treated as background", missing, data_dir / "labels"
        )
    splits = assign_splits(items, cfg)
    report = _split_report(items, splits, names, cfg)
    report["source"] = str(data_dir)
    report["test_dropped"] = test_dropped
    uncovered = tuple(f"{u['class']}->{u['split']}" for u in report["uncovered"])
    if uncovered:
        log.warning("classes missing from a split that needs them (no placement found): %s", uncovered)
    with staged_dir(out_dir) as tmp:
        _write_dataset(tmp, data_dir, items, splits, names)
        write_json_atomic(tmp / "split.json", report)
    result = SplitResult(
        out_dir=out_dir,
        dataset_yaml=out_dir / "dataset.yaml",
        images=len(items),
        groups=sum(report["groups"].values()),
        classes=len(names),
        counts=report["images"],
        background=report["background"],
        uncovered=uncovered,
        seconds=round(time.perf_counter() - t0, 3),
    )
    log.info(
        "split %d images (%d groups) -> %s in %.2fs",
        result.images,
        result.groups,
        ", ".join(f"{s} {n}" for s, n in result.counts.items()),
        result.seconds,
    )
    return result
