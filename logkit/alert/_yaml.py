"""YAML with line numbers: mappings and lists that remember the line of each key and item, so a
rules error can name ``file:line`` (PyYAML's node marks; its constructors drop them)."""
from __future__ import annotations

from typing import Any

import yaml

from .model import RuleError

class LMap(dict):
    """A mapping that remembers the line of itself and of each key (1-based)."""
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.line = 0
        self.key_lines: dict[str, int] = {}

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LList(list):
    def __init__(self, *args):
        super().__init__(*args)
        self.line = 0
        self.item_lines: list[int] = []


def _convert(node: yaml.Node, loader: yaml.SafeLoader, file: str):
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out = LMap()
        out.line, out.key_lines = line, {}
        for k, v in node.value:
            key = _convert(k, loader, file)
            if not isinstance(key, (str, int, float, bool)) or isinstance(key, bool):
                raise RuleError(f"a key must be a string, not {type(key).__name__}", file, k.start_mark.line + 1)
            key = str(key)
            if key in out:
                raise RuleError(f"duplicate key {key!r}", file, k.start_mark.line + 1)
            out[key] = _convert(v, loader, file)
            out.key_lines[key] = k.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        out = LList(_convert(v, loader, file) for v in node.value)
        out.line, out.item_lines = line, [v.start_mark.line + 1 for v in node.value]
        return out
    return loader.construct_object(node, deep=True)


def load_yaml(text: str, file: str = "<rules>") -> Any:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        return _convert(node, loader, file)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise RuleError(f"not valid YAML: {e.problem or e}", file, mark.line + 1 if mark else None) from None
    except yaml.YAMLError as e:
        raise RuleError(f"not valid YAML: {e}", file) from None
    finally:
        loader.dispose()
