"""The version of the code that produced a cached result: one scheme for every cache.

A stage's code version is the sha256 of the source files of the modules it depends on
(found from their import statements, transitively, inside `pipeline`; a package named
as a root counts with all its modules), the data files it reads (templates) and the
versions of the libraries whose results it keeps. So a change to the report's code or
templates re-runs the report only, never extraction or normalization, and no version
number is bumped by hand. Every cache key is (content hash, code version):

* the extraction cache (pipeline.infra.cache): each file's digest + `code_version("extract")`
  (+ the OCR engine when it is not the default: pipeline.config.extractor_version);
* the stage done markers (pipeline.infra.stages): the input files' digests + the stage's;
* the validation state and the report pieces: each product's rows + `code_version("validate")`.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import json
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from pipeline import config

#: What each stage's results depend on: root modules (a package: all its modules), data
#: files (globs under the package folder) and libraries (distribution names).
STAGES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "extract": (
        ("pipeline.extract", "pipeline.sources"),
        (),
        ("pdfplumber", "pdfminer.six", "pypdfium2", "pillow", "numpy", "scipy"),
    ),
    # pipeline.rules: the registry finds its rule modules by importlib, not by import
    # statements, so the package counts whole; corrections are applied before normalizing.
    "normalize": (
        ("pipeline.normalize", "pipeline.rules", "pipeline.corrections"),
        (),
        ("pandas", "pyarrow"),
    ),
    "validate": (
        ("pipeline.validate", "pipeline.expectations", "pipeline.compliance", "pipeline.rules"),
        (),
        ("pandas", "pyarrow", "great_expectations"),
    ),
    "chart": (("pipeline.chart",), (), ("matplotlib",)),
    "report": (
        (
            "pipeline.report",
            "pipeline.report_scores",
            "pipeline.document",
            "pipeline.chart",
            "pipeline.score",
            "pipeline.rules",
        ),
        ("templates/*",),
        ("pandas", "pyarrow", "jinja2", "markupsafe", "matplotlib"),
    ),
}

#: Infrastructure modules whose code does not shape a stage's results (how files are
#: written, cached, locked, scheduled, shown): not part of any code version, so a change to
#: them reads nothing again. The two that do shape results count (how GX is run, the
#: dtypes of Parquet read in batches).
NOT_RESULTS = "pipeline.infra."
RESULT_INFRA = frozenset({"pipeline.infra.gx", "pipeline.infra.parquet_batches"})

#: The code version's length in hex digits (64 bits: enough to tell versions apart).
VERSION_DIGITS = 16

#: Where the stages' code versions are kept between runs (`code_version`): beside the
#: package's bytecode, as Python keeps it (one file per checkout, whatever the work folder:
#: a cold run in a new work folder finds it too; never part of a version: `package_files`).
VERSIONS_CACHE = Path("__pycache__") / "labelaudit-code-versions.json"
#: Folders and file endings of the package that are not its code or data.
_NOT_CODE_DIRS = frozenset({"__pycache__"})
_NOT_CODE_SUFFIXES = (".pyc", ".tmp")


def module_file(name: str, root: Path = config.PACKAGE_DIR) -> Path | None:
    """The source file of module `name` ("pipeline.x.y") under the package folder `root`,
    or None if it is not one of the package's modules."""
    parts = name.split(".")
    if parts[0] != root.name:
        return None
    base = root.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@functools.cache
def _imported(path: Path, name: str, root: Path) -> frozenset[str]:
    """The package modules the source file `path` (module `name`) imports, anywhere in it;
    parsed once a process (the stages share most modules: five code versions parsed 141
    files, 0.7 s of a run; the files do not change while it runs)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return frozenset(m for m in found if module_file(m, root) is not None)


def _package_modules(name: str, root: Path) -> set[str]:
    """`name` and, if it is a package, every module in it."""
    path = module_file(name, root)
    if path is None or path.name != "__init__.py":
        return {name}
    prefix = name.split(".")
    return {
        ".".join([*prefix, *p.relative_to(path.parent).with_suffix("").parts]).removesuffix(
            ".__init__"
        )
        for p in path.parent.rglob("*.py")
    }


def dependencies(roots: tuple[str, ...], root: Path = config.PACKAGE_DIR) -> dict[str, Path]:
    """Every package module `roots` depend on (themselves included; infrastructure that does
    not shape results left out: NOT_RESULTS): name -> source file."""
    todo = sorted({m for r in roots for m in _package_modules(r, root)})
    seen: dict[str, Path] = {}
    while todo:
        name = todo.pop()
        path = module_file(name, root)
        if name in seen or path is None:
            continue
        if name.startswith(NOT_RESULTS) and name not in RESULT_INFRA:
            continue
        seen[name] = path
        todo.extend(sorted(_imported(path, name, root) - seen.keys()))
    return dict(sorted(seen.items()))


def library_version(name: str) -> str:
    """The installed version of the library `name` ("absent" when it is not installed)."""
    try:
        return version(name)
    except PackageNotFoundError:
        return "absent"


def files_digest(files: Mapping[str, Path], libraries: Iterable[str] = ()) -> str:
    """The sha256 (hex) of `files` ({name: path}, in name order: each name and its bytes)
    and of the `libraries`' versions."""
    digest = hashlib.sha256()
    for relative, path in sorted(files.items()):
        digest.update(f"{relative}\n".encode())
        digest.update(path.read_bytes())
    for library in libraries:
        digest.update(f"{library}={library_version(library)}\n".encode())
    return digest.hexdigest()


def source_version(
    roots: tuple[str, ...],
    data: tuple[str, ...] = (),
    libraries: tuple[str, ...] = (),
    root: Path = config.PACKAGE_DIR,
) -> str:
    """The sha256 (first VERSION_DIGITS hex digits) of the source of `roots` and what they
    import, the `data` files (globs under `root`) and the `libraries`' versions."""
    files = {str(p.relative_to(root)): p for p in dependencies(roots, root).values()}
    for pattern in data:
        files.update(
            {
                str(p.relative_to(root)): p
                for p in root.glob(pattern)
                if p.is_file() and not p.name.endswith(_NOT_CODE_SUFFIXES)
            }
        )
    return files_digest(files, libraries)[:VERSION_DIGITS]


def package_files(root: Path = config.PACKAGE_DIR) -> Iterator[Path]:
    """Every file of the package under `root` (its code, templates and data; not its
    bytecode, the code-version cache or temp files)."""
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(s for s in subfolders if s not in _NOT_CODE_DIRS)
        for name in sorted(files):
            if not name.endswith(_NOT_CODE_SUFFIXES):
                yield Path(folder) / name


def package_version_of(root: Path) -> str:
    """The sha256 of every file of the package under `root` (path and bytes), of the
    versions of every library a stage's results depend on (STAGES) and of Python's."""
    files = {p.relative_to(root).as_posix(): p for p in package_files(root)}
    libraries = sorted({lib for _, _, libs in STAGES.values() for lib in libs})
    code = files_digest(files, libraries)
    return hashlib.sha256(f"{code}\npython={sys.version}\n".encode()).hexdigest()


@functools.cache
def package_version() -> str:
    """`package_version_of` the package, computed once per process (its files do not
    change while it runs)."""
    return package_version_of(config.PACKAGE_DIR)


def cached_code_version(
    stage: str,
    root: Path,
    key: str,
    table: Mapping[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = STAGES,
) -> str:
    """`stage`'s code version (`source_version` of `table[stage]` under `root`), kept in
    root/VERSIONS_CACHE under `key`, what every version depends on (`package_version_of`
    root: the content of every file of the package, the libraries' and Python's versions).
    A cache of another key, or unreadable, or damaged, is computed anew; one that cannot
    be written is not kept (the version is right either way). Parsing the imports of the
    modules a stage depends on costs ~0.15 s a stage, ~0.6 s a run (all five)."""
    path = root / VERSIONS_CACHE
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        kept = None
    versions = kept.get("versions") if isinstance(kept, dict) and kept.get("key") == key else None
    if not isinstance(versions, dict):
        versions = {}
    found = versions.get(stage)
    if isinstance(found, str) and len(found) == VERSION_DIGITS:
        return found
    roots, data, libraries = table[stage]
    computed = source_version(roots, data, libraries, root)
    versions = {
        k: v for k, v in versions.items() if isinstance(v, str) and len(v) == VERSION_DIGITS
    }
    versions[stage] = computed
    text = json.dumps({"key": key, "versions": dict(sorted(versions.items()))}) + "\n"
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(exist_ok=True)
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, path)
    except OSError:
        with contextlib.suppress(OSError):
            temp.unlink()
    return computed


@functools.cache
def code_version(stage: str) -> str:
    """The version of the code of `stage` (a key of STAGES), computed once per process
    and kept between runs while no file of the package and no library changes
    (`cached_code_version`)."""
    return cached_code_version(stage, config.PACKAGE_DIR, package_version())


def extractor_version() -> str:
    """The extraction cache's code version: `code_version("extract")`, with the OCR engine
    when it is not the default (the cache never serves one engine's reading to a run with
    the other)."""
    engine = config.ocr_engine()
    base = code_version("extract")
    return base if engine == config.DEFAULT_OCR_ENGINE else f"{base}+{engine}"
