"""YAML parsing that remembers where every value came from, so errors can name file:line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from evalkit.core.errors import EvalkitError, closest

Loc = tuple[int | str, ...]


MAX_SUITE_BYTES = 5_000_000  # a suite is configuration; thousands of cases belong in a cases file
MAX_DEPTH = 100  # nested [ and { (a real suite has a handful)
MAX_VALUES = 1_000_000  # values a suite may expand to through aliases (a 1 KB alias bomb expands to 9^9)


class YamlSource:
    """A parsed YAML file: the plain data plus its node tree for line lookups.

    A suite file is untrusted input in CI: it is read with the safe loader (no tags that run code),
    and refused, with one line, when it is too large, nested too deeply, or expands through aliases
    to more values than any real suite has."""

    def __init__(self, path: Path):
        self.path = path
        try:
            size = path.stat().st_size
            if size > MAX_SUITE_BYTES:
                raise EvalkitError(f"the suite file is {size / 1e6:.1f} MB; suites over "
                                   f"{MAX_SUITE_BYTES / 1e6:g} MB are refused", where=str(path),
                                   hint="put cases in a file: cases: {path: cases.jsonl}")
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise EvalkitError(f"suite file not found: {path}") from None
        except UnicodeDecodeError as exc:
            number = exc.object[: exc.start].count(b"\n") + 1
            raise EvalkitError(f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x})", where=f"{path}:{number}",
                               hint="save the suite as UTF-8") from None
        except OSError as exc:
            raise EvalkitError(f"cannot read suite file ({exc.strerror})", where=str(path)) from None
        if _flow_depth(text) > MAX_DEPTH:  # PyYAML's scanner is quadratic in flow depth: refuse before it runs
            raise EvalkitError("the suite is nested too deeply", where=str(path),
                               hint="a suite is a few levels of mappings and lists")
        loader = None
        try:
            loader = yaml.SafeLoader(text)  # its reader refuses control characters at once
            self.root = loader.get_single_node()
            if self.root is not None:
                self._check_expansion(self.root)
                self._reject_duplicate_keys(self.root)
            self.data: Any = loader.construct_document(self.root) if self.root is not None else None
        except yaml.reader.ReaderError as exc:
            number = text[: exc.position].count("\n") + 1
            raise EvalkitError(f"control character 0x{int(exc.character):02x} is not allowed in YAML",
                               where=f"{path}:{number}",
                               hint="delete it, or write it as an escape in a double-quoted string") from None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark
            line = f":{mark.line + 1}" if mark else ""
            raise EvalkitError(f"not valid YAML ({exc.problem})", where=f"{path}{line}",
                               hint="quote text that contains ': ', ' #', '?' or brackets") from None
        except yaml.YAMLError as exc:
            raise EvalkitError(f"not valid YAML ({exc})", where=str(path)) from None
        except RecursionError:
            raise EvalkitError("the suite is nested too deeply", where=str(path),
                               hint="a suite is a few levels of mappings and lists") from None
        finally:
            if loader is not None:
                loader.dispose()

    def _check_expansion(self, root: yaml.Node) -> None:
        """Refuse a document whose aliases expand it past MAX_VALUES (counted once per node, in linear
        time), or that contains itself (a recursive alias: it would expand forever)."""
        sizes: dict[int, int] = {}
        open_nodes: set[int] = set()  # on the path from the root: a child among them is a cycle
        stack: list[tuple[yaml.Node, bool]] = [(root, False)]
        while stack:
            node, children_done = stack.pop()
            if id(node) in sizes:
                continue
            children = _children(node)
            if not children_done and id(node) in open_nodes:
                raise EvalkitError("a YAML alias refers to a value that contains it (a recursive alias)",
                                   where=self.where_node(node), hint="write the values out instead of the alias")
            if children_done or not children:
                open_nodes.discard(id(node))
                sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
                if sizes[id(node)] > MAX_VALUES:
                    raise EvalkitError(f"the suite expands to more than {MAX_VALUES:,} values through YAML aliases",
                                       where=self.where_node(node), hint="an alias bomb? write the values out")
            else:
                open_nodes.add(id(node))
                stack.append((node, True))
                stack.extend((child, False) for child in children if id(child) not in sizes)

    def _reject_duplicate_keys(self, root: yaml.Node) -> None:
        seen_nodes: set[int] = set()  # an aliased node is checked once, however often it is used
        stack = [root]
        while stack:
            node = stack.pop()
            if id(node) in seen_nodes:
                continue
            seen_nodes.add(id(node))
            if isinstance(node, yaml.MappingNode):
                keys: set[str] = set()
                for key, _ in node.value:
                    if isinstance(key, yaml.ScalarNode):
                        if key.value in keys:
                            raise EvalkitError(f"duplicate key '{key.value}'", where=self.where_node(key))
                        keys.add(key.value)
            stack.extend(reversed(_children(node)))  # document order: the first duplicate is reported

    def where_node(self, node: yaml.Node) -> str:
        return f"{self.path}:{node.start_mark.line + 1}"

    def where(self, loc: Loc, *, key: bool = False) -> str:
        """file:line of the value at `loc` (or of its key), or of the deepest ancestor found.

        Parts of `loc` that are not in the YAML (pydantic's union tags) are skipped.
        """
        node = self.root
        key_node = None
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                match = next(((k, v) for k, v in node.value if k.value == str(part)), None)
                if match is None:
                    continue
                key_node, node = match
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    break
                key_node, node = None, node.value[part]
        chosen = key_node if key and key_node is not None else node
        return f"{self.path}:{chosen.start_mark.line + 1}" if chosen is not None else str(self.path)


def _flow_depth(text: str) -> int:
    """The deepest nesting of flow brackets, outside quotes and comments (a linear scan)."""
    depth = deepest = 0
    quote = ""
    for line in text.splitlines():
        for char in line:
            if quote:
                quote = "" if char == quote else quote
            elif char in "'\"":
                quote = char
            elif char == "#":
                break
            elif char in "[{":
                depth += 1
                deepest = max(deepest, depth)
            elif char in "]}":
                depth -= 1
        quote = quote if quote == '"' else ""  # a single-quoted scalar may not span lines here
    return deepest


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def dotted(loc: Loc) -> str:
    """('candidates', 0, 'retriever') -> 'candidates[0].retriever'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def validation_error(
    exc: ValidationError, model: type[BaseModel], where: Any, prefix: Loc = ()
) -> EvalkitError:
    """Turn pydantic's first error into one line: where, which key, what, with a did-you-mean.

    `where(loc, key=...)` maps a full location to `file:line`.
    """
    # an unknown key first: it usually explains a "missing" error for the key that was meant
    errors = sorted(_fitting_member(exc.errors()), key=lambda e: e["type"] != "extra_forbidden")
    first = errors[0]
    inner, _ = _resolve(model, tuple(first["loc"]))
    loc: Loc = prefix + inner
    kind = first["type"]
    if kind == "extra_forbidden":
        unknown = str(loc[-1])
        allowed = _field_names(_resolve(model, tuple(first["loc"])[:-1])[1])
        meant = closest(unknown, allowed)
        others = [e for e in errors[1:] if not (e["type"] == "missing" and e["loc"][-1] == meant)]
        more = f" (and {len(others)} more)" if others else ""
        hint = f"did you mean '{meant}'?" if meant else (f"allowed keys: {', '.join(sorted(allowed))}"
                                                         if allowed else None)
        where_key = f"{where(loc, key=True)}: {dotted(loc[:-1]) or 'top level'}"
        return EvalkitError(f"unknown key '{unknown}'{more}", where=where_key, hint=hint)
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    if kind == "missing":
        message = f"missing required key '{loc[-1]}'"
        return EvalkitError(message + more, where=f"{where(loc[:-1])}: {dotted(loc[:-1]) or 'top level'}")
    if kind == "union_tag_invalid":
        tags = [tag.strip(" '") for tag in str(first["ctx"]["expected_tags"]).split(",")]
        got = str(first["ctx"]["tag"])
        return EvalkitError(f"unknown {first['ctx']['discriminator'].strip(chr(39))} '{got}'" + more,
                            where=f"{where(loc)}: {dotted(loc)}",
                            hint=f"did you mean '{closest(got, tags)}'?" if closest(got, tags)
                            else f"one of: {', '.join(tags)}")
    if kind == "union_tag_not_found":  # a tagged section without its tag, e.g. a generator without `kind:`
        field = str(first["ctx"]["discriminator"]).strip(chr(39))
        named = [tag for m in _members(_resolve(model, tuple(first["loc"]))[1]) if (tag := _tag(m))]
        return EvalkitError(f"missing required key '{field}'" + more, where=f"{where(loc)}: {dotted(loc)}",
                            hint=f"one of: {', '.join(named)}" if named else None)
    if kind == "model_type" and isinstance(first.get("input"), str):  # `corpus: docs/` for `corpus: {path: docs/}`
        fields = sorted(_field_names(_resolve(model, tuple(first["loc"]))[1]))
        text = first["input"]
        hint = f"write {dotted(loc)}: {{path: {text}}}" if "path" in fields else (
            f"its keys: {', '.join(fields)}" if fields else None)
        return EvalkitError(f"expected a mapping, got the text '{text[:60]}'" + more,
                            where=f"{where(loc)}: {dotted(loc)}", hint=hint)
    message = str(first["ctx"]["error"]) if kind == "value_error" else first["msg"][0].lower() + first["msg"][1:]
    return EvalkitError(message + more, where=f"{where(loc)}: {dotted(loc)}")


def _fitting_member(errors: list[Any]) -> list[Any]:
    """For a value that fits none of a union's forms (`cases:` a file, a dataset or a list), only
    the errors of the form it was meant as: the one whose keys it used (fewest unknown keys, then
    fewest errors). Pydantic reports every form's errors, and the first is seldom the one meant."""
    def member(error: Any) -> tuple[tuple[Any, ...], str] | None:
        loc = error["loc"]
        at = next((i for i, part in enumerate(loc) if isinstance(part, str) and (part[:1].isupper() or "[" in part)),
                  None)
        return (tuple(loc[:at]), loc[at]) if at is not None else None

    by_member: dict[tuple[tuple[Any, ...], str], list[Any]] = {}
    for error in errors:
        if (key := member(error)) is not None:
            by_member.setdefault(key, []).append(error)
    best: dict[tuple[Any, ...], tuple[int, int, str]] = {}
    for (site, name), found in by_member.items():
        rank = (sum(e["type"] == "extra_forbidden" for e in found), len(found), name)
        if site not in best or rank < best[site]:
            best[site] = rank
    return [e for e in errors if (key := member(e)) is None or best[key[0]][2] == key[1]]


def _resolve(model: type[BaseModel], loc: Loc) -> tuple[Loc, Any]:
    """`loc` without the tags pydantic inserts for tagged unions (`judge.model.model` is the key
    `judge.model` of the union member tagged 'model'), and the type found at its end."""
    import typing

    current: Any = model
    kept: list[int | str] = []
    for part in loc:
        options = _members(current)
        if len(options) > 1 and isinstance(part, str):
            tagged = [m for m in options if _tag(m) == part or getattr(m, "__name__", None) == part]
            if tagged:  # a tag or member-name segment: step into that member, keep nothing
                current = tagged[0]
                continue
        if len(options) >= 1:
            current = options[0]
        kept.append(part)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part) if isinstance(part, str) else None
            current = field.annotation if field is not None else current
        elif typing.get_origin(current) in (list, dict) and typing.get_args(current):
            current = typing.get_args(current)[-1]
    return tuple(kept), current


def _members(annotation: Any) -> list[Any]:
    """The pydantic models an annotation may hold (through Annotated, Optional, unions and lists)."""
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if typing.get_origin(annotation) is None:
        return []
    found: list[Any] = []
    for arg in typing.get_args(annotation):
        if arg is not type(None):
            found += _members(arg)
    return found


def _tag(model: type[BaseModel]) -> str | None:
    field = model.model_fields.get("kind")
    return field.default if field is not None and isinstance(field.default, str) else None


def _field_names(annotation: Any) -> set[str]:
    """The keys allowed in a mapping of this type (a model, or the first model a union holds)."""
    models = _members(annotation)
    return set(models[0].model_fields) if models else set()
