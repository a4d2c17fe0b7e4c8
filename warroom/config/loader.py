"""Reads YAML config files, remembering the file and line of every value."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from warroom.config.schema import KINDS, SINGLE

Path_ = tuple[str | int, ...]


class ConfigFileError(Exception):
    """A problem located in a file: str() is `file:line: message`."""

    def __init__(self, file: str, line: int | None, message: str) -> None:
        self.file, self.line, self.message = file, line, message
        super().__init__(f"{file}:{line}: {message}" if line else f"{file}: {message}")


@dataclass
class Loaded:
    data: dict[str, Any] = field(default_factory=dict)
    where: dict[Path_, tuple[str, int]] = field(default_factory=dict)

    def locate(self, path: Path_) -> tuple[str, int] | None:
        """The closest recorded location for a path (a field, else its parent)."""
        p = tuple(path)
        while p:
            if p in self.where:
                return self.where[p]
            p = p[:-1]
        return None


def _to_python(node: yaml.Node, file: str, path: Path_, where: dict[Path_, tuple[str, int]]) -> Any:
    where[path] = (file, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node))
            if not isinstance(key, str):
                raise ConfigFileError(file, key_node.start_mark.line + 1, "keys must be strings")
            if key in out:
                raise ConfigFileError(file, key_node.start_mark.line + 1, f"duplicate key {key!r}")
            out[key] = _to_python(value_node, file, (*path, key), where)
            # A field is found at its key: for a block value the node starts a line later.
            where[(*path, key)] = (file, key_node.start_mark.line + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(n, file, (*path, i), where) for i, n in enumerate(node.value)]
    if node.tag == "tag:yaml.org,2002:null":  # also `key:` with nothing (not serializable)
        return None
    return yaml.safe_load(yaml.serialize(node))


def config_files(target: Path) -> list[Path]:
    if target.is_dir():
        return sorted(p for p in target.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    if not target.exists():
        raise ConfigFileError(str(target), None, "no such file or folder")
    return [target]


def load(target: Path | str) -> Loaded:
    """Loads a file or a folder of YAML files into one document (lists are concatenated; a
    mapping section such as `sso:` may be given in one file only)."""
    result = Loaded()
    files = config_files(Path(target))
    if not files:
        raise ConfigFileError(str(target), None, "no .yaml or .yml files found")
    for path in files:
        name = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigFileError(name, None, f"not UTF-8 text: {exc.reason}") from exc
        except OSError as exc:
            raise ConfigFileError(name, None, f"cannot read: {exc.strerror}") from exc
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            line = exc.problem_mark.line + 1 if exc.problem_mark else None
            raise ConfigFileError(name, line, f"invalid YAML: {exc.problem}") from exc
        if node is None:
            continue
        local: dict[Path_, tuple[str, int]] = {}
        data = _to_python(node, name, (), local)
        if not isinstance(data, dict):
            raise ConfigFileError(
                name, 1, "the top level must be a mapping (severities:, teams:, …)"
            )
        for key, value in data.items():
            line = local[(key,)][1]
            if key in SINGLE:
                if value is not None and not isinstance(value, dict):
                    raise ConfigFileError(name, line, f"{key} must be a mapping (or null)")
                if key in result.data:
                    first = result.where[(key,)]
                    raise ConfigFileError(
                        name, line, f"{key} is given twice (first at {first[0]}:{first[1]})"
                    )
                result.data[key] = value
                result.where.update((p, loc) for p, loc in local.items() if p[:1] == (key,))
                continue
            if key not in KINDS:
                raise ConfigFileError(
                    name,
                    line,
                    f"unknown section {key!r}; expected one of {', '.join(KINDS + SINGLE)}",
                )
            if not isinstance(value, list):
                raise ConfigFileError(name, line, f"{key} must be a list")
            merged = result.data.setdefault(key, [])
            offset = len(merged)
            merged.extend(value)
            result.where.setdefault((key,), (name, line))
            for p, loc in local.items():
                if len(p) >= 2 and p[0] == key and isinstance(p[1], int):
                    result.where[(key, p[1] + offset, *p[2:])] = loc
    return result
