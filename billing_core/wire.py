"""The wire format: the camelCase JSON the reference daemon exchanges with its clients.

:func:`to_wire` turns a model (or a list of them) into plain JSON values;
:func:`from_wire` reads them back, strictly: a value of the wrong JSON type, a
missing required key, an unknown ``source`` or ``reason`` raise
:class:`~billing_core.errors.BillingPayloadError` naming the path of the bad
value with wire (camelCase) keys. Unknown extra keys are ignored.

>>> from billing_core.models import PaidBilling
>>> to_wire(PaidBilling(organization_id="org-1", remaining=12_400, tier="PRO"))
{'source': 'paid', 'organizationId': 'org-1', 'remaining': 12400, 'tier': 'PRO'}
>>> from_wire(PaidBilling, {"organizationId": "org-1", "remaining": "12400"})
Traceback (most recent call last):
  ...
billing_core.errors.BillingPayloadError: remaining: expected an int, got str

The codec is built on a cattrs converter. Reading runs twice only when the
payload is bad: a fast pass (cattrs-generated functions that hand values
straight to the models, whose validators are strict) and, on failure, a
detailed pass whose checks name the exact key or index at fault.

Nothing is generated at import: each model's fast reader, detailed reader and
writer are generated on their first use (with those of the models it holds),
so a program reading three kinds of answer pays for three readers, not for
the whole codec.
"""

from __future__ import annotations

import threading
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any, Final, Literal, TypeAlias, TypeVar, overload

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn_from_attrs, make_dict_unstructure_fn, override

from billing_core.errors import BillingPayloadError
from billing_core.models import (
    STATUS_BILLING_VARIANTS,
    BillingResolution,
    BillingUsage,
    FreeUserLimit,
    FreeUserLimitWindow,
    OrganizationTier,
    Problem,
    RawUsage,
    StatusBilling,
    Team,
)

__all__ = ["WireModel", "from_wire", "to_wire"]

WireModel: TypeAlias = (
    OrganizationTier
    | RawUsage
    | BillingUsage
    | FreeUserLimitWindow
    | FreeUserLimit
    | Team
    | StatusBilling
    | Problem
    | BillingResolution
)
"""Every value :func:`to_wire` accepts (besides lists and tuples of them)."""

T = TypeVar("T")

# A structure hook takes the JSON value and returns the model value. cattrs
# calls field hooks as ``hook(value, type)``; ours ignore the type.
_Hook: TypeAlias = Callable[..., Any]
_Unhook: TypeAlias = Callable[[Any], Any]

_SOURCE_KEY: Final = "source"

# The converter the hooks are generated with. Every model field gets an explicit
# hook, so nothing is registered with it: it only supplies cattrs' defaults.
_converter: Final = cattrs.Converter(detailed_validation=True, forbid_extra_keys=False)


# --- names and messages -------------------------------------------------------


def _wire_key(attribute_name: str) -> str:
    """``organization_id`` -> ``organizationId``: every wire key follows this rule."""
    head, *rest = attribute_name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _quote(text: str, limit: int = 40) -> str:
    """``repr`` of a string from the payload, cut short: errors must stay one readable line."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


def _expected(what: str, value: object) -> TypeError:
    return TypeError(f"expected {what}, got {_kind(value)}")


def _at_key(owner: type, attribute_name: str, error: Exception) -> ClassValidationError:
    """``error`` located at one key of an object, the way cattrs reports it."""
    note = AttributeValidationNote(
        f"Structuring class {owner.__qualname__} @ attribute {attribute_name}",
        attribute_name,
        Any,
    )
    error.__notes__ = [*getattr(error, "__notes__", ()), note]
    return ClassValidationError(f"While structuring {owner.__name__}", [error], owner)


def _at_index(index: int, error: Exception) -> IterableValidationError:
    note = IterableValidationNote(f"Structuring list @ index {index}", index, Any)
    error.__notes__ = [*getattr(error, "__notes__", ()), note]
    return IterableValidationError("While structuring a list", [error], list)


# --- field hooks ----------------------------------------------------------------

_PRIMITIVES: Final[dict[Any, tuple[str, Callable[[object], bool]]]] = {
    str: ("a string", lambda value: type(value) is str),
    int: ("an int", lambda value: type(value) is int),
    bool: ("a bool", lambda value: type(value) is bool),
    # percentUsed: an int stays an int, a float a float (bool is not a number here).
    float: ("a number", lambda value: type(value) is int or type(value) is float),
}


def _split_optional(tp: Any) -> tuple[Any, bool]:
    """``X | None`` -> ``(X, True)``; anything else -> ``(tp, False)``."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        members = [member for member in typing.get_args(tp) if member is not type(None)]
        if len(members) < len(typing.get_args(tp)):
            rest = members[0] if len(members) == 1 else typing.Union[tuple(members)]  # noqa: UP007
            return rest, True
    return tp, False


def _is_optional(attribute: attrs.Attribute[Any]) -> bool:
    return _split_optional(attribute.type)[1]


def _may_be_left_out(cls: type, attribute: attrs.Attribute[Any]) -> bool:
    """Whether the wire may leave the key out (and does when the value is the default).

    Only fields with a default: optional ones (``X | None = None``) everywhere,
    and any other in a ``StatusBilling`` variant, such as ``limitExceeded``
    (absent means false), so payloads written before such a key existed stay
    valid. The keys of the upstream models (usages, tiers, teams) are required
    unless optional: ``tier`` has a default in Python, yet a usage without one
    is a bad payload.
    """
    if attribute.default is attrs.NOTHING:
        return False
    return _is_optional(attribute) or hasattr(cls, _SOURCE_KEY)


def _passthrough(value: Any, _type: Any = None) -> Any:
    # The fast pass leaves primitive checks to the models' validators, which
    # are exactly as strict (no bool for int, no str for number, ...).
    return value


def _checked_primitive(attribute: attrs.Attribute[Any]) -> _Hook:
    """The detailed check of one primitive field: its JSON type, then the model's rule."""
    base, optional = _split_optional(attribute.type)
    if typing.get_origin(base) is Literal:
        base = str
    what, accepts = _PRIMITIVES[base]
    validator = attribute.validator
    # Validators name the attribute they check; name it as the wire does.
    wire_named = attribute.evolve(name=_wire_key(attribute.name))

    def check(value: Any, _type: Any = None) -> Any:
        if value is None and optional:
            return None
        if not accepts(value):
            raise _expected(what, value)
        if validator is not None:
            validator(None, wire_named, value)
        return value

    return check


def _is_primitive(tp: Any) -> bool:
    base, _ = _split_optional(tp)
    return base in _PRIMITIVES or typing.get_origin(base) is Literal


# --- structure hooks ------------------------------------------------------------


def _fast_list(item: _Hook) -> _Hook:
    def structure(value: Any, _type: Any = None) -> list[Any]:
        if type(value) is not list:
            raise _expected("a list", value)
        return [item(element) for element in value]

    return structure


def _fast_object_list(generated: _Hook) -> _Hook:
    """The hot loop of a payload: one generated call per object, no extra frame."""

    def structure(value: Any, _type: Any = None) -> list[Any]:
        if type(value) is not list:
            raise _expected("a list", value)
        return [
            generated(element) if type(element) is dict else _not_an_object(element)
            for element in value
        ]

    return structure


def _not_an_object(value: Any) -> Any:
    raise _expected("an object", value)


def _detailed_list(item: _Hook) -> _Hook:
    def structure(value: Any, _type: Any = None) -> list[Any]:
        if type(value) is not list:
            raise _expected("a list", value)
        items = []
        for index, element in enumerate(value):
            try:
                items.append(item(element))
            except Exception as error:
                raise _at_index(index, error) from None
        return items

    return structure


def _optional(hook: _Hook) -> _Hook:
    def structure(value: Any, _type: Any = None) -> Any:
        return None if value is None else hook(value)

    return structure


def _object(cls: type, generated: _Hook, tag: str | None) -> _Hook:
    """Check that the value is a JSON object (and, for a variant, its ``source``)."""

    def structure(value: Any, _type: Any = None) -> Any:
        if type(value) is not dict:
            raise _expected("an object", value)
        if tag is not None and _SOURCE_KEY in value and value[_SOURCE_KEY] != tag:
            # A variant read on its own may carry its tag, but only its own.
            raise _at_key(cls, _SOURCE_KEY, _wrong_source(value[_SOURCE_KEY], expected=tag))
        return generated(value)

    return structure


def _wrong_source(source: object, *, expected: str) -> Exception:
    if type(source) is not str:
        return _expected("a string", source)
    return ValueError(f"expected source {expected!r}, got {_quote(source)}")


def _union(variants: dict[str, type], hook_of: Callable[[type], _Hook]) -> _Hook:
    """Read a ``StatusBilling``: dispatch on ``source`` to ``hook_of`` the variant's class."""
    known = ", ".join(variants)

    def structure(value: Any, _type: Any = None) -> Any:
        if type(value) is not dict:
            raise _expected("an object", value)
        source = value.get(_SOURCE_KEY)
        variant = variants.get(source) if type(source) is str else None
        if variant is not None:
            return hook_of(variant)(value)
        if _SOURCE_KEY not in value:
            error: Exception = KeyError(_SOURCE_KEY)
        elif type(source) is not str:
            error = _expected("a string", source)
        else:
            error = ValueError(f"unknown source {_quote(source)}; expected one of: {known}")
        raise _at_key(object, _SOURCE_KEY, error)

    return structure


# --- the hooks of each model, generated on first use -------------------------------

# Every class the codec reads and writes: the WireModel members, variants inlined.
_MODELS: Final[frozenset[type]] = frozenset(typing.get_args(WireModel))

# Per model class: (fast reader of one object, fast reader of a list of them),
# the detailed reader, the writer. Filled on first use, never emptied.
_FAST: Final[dict[type, tuple[_Hook, _Hook]]] = {}
_DETAILED: Final[dict[type, _Hook]] = {}
_UNSTRUCTURE: Final[dict[type, _Unhook]] = {}

# Threads may race to a model's first use (the sync driver decodes answers in
# worker threads): one generates, the others wait. Re-entrant, since a model's
# hooks are generated with those of the models it holds.
_GENERATING: Final = threading.RLock()

_V = TypeVar("_V")


def _generated(cache: dict[type, _V], cls: type, make: Callable[[type], _V]) -> _V:
    """``cache[cls]``, made by ``make(cls)`` the first time any thread asks."""
    hook = cache.get(cls)
    if hook is None:
        with _GENERATING:
            hook = cache.get(cls)
            if hook is None:
                hook = cache[cls] = make(cls)
    return hook


def _fast_hooks(cls: type) -> tuple[_Hook, _Hook]:
    """The fast readers of ``cls``: of one object, and of a list of them."""
    return _generated(_FAST, cls, _make_fast)


def _fast_hook(cls: type) -> _Hook:
    return _fast_hooks(cls)[0]


def _detailed_hook(cls: type) -> _Hook:
    """The reader of ``cls`` that names the key at fault (only run on a bad payload)."""
    return _generated(_DETAILED, cls, _make_detailed)


def _unstructure_hook(cls: type) -> _Unhook:
    """The writer of ``cls``."""
    return _generated(_UNSTRUCTURE, cls, _make_unstructure)


def _union_hook(*, fast: bool) -> _Hook:
    # Each variant's reader is generated when a payload of that variant first comes.
    return _union(
        {cls.source: cls for cls in STATUS_BILLING_VARIANTS},
        _fast_hook if fast else _detailed_hook,
    )


def _field_hook(attribute: attrs.Attribute[Any], *, fast: bool) -> _Hook:
    if _is_primitive(attribute.type):
        return _passthrough if fast else _checked_primitive(attribute)
    base, optional = _split_optional(attribute.type)
    if base == StatusBilling:
        hook = _union_hook(fast=fast)
    elif typing.get_origin(base) is tuple:
        item = typing.get_args(base)[0]
        hook = _fast_list(_fast_hook(item)) if fast else _detailed_list(_detailed_hook(item))
    else:
        hook = _fast_hook(base) if fast else _detailed_hook(base)
    converter = attribute.converter
    if not fast and converter is not None and not isinstance(converter, attrs.Converter):
        # The model's converter may refuse the value as a whole (e.g. candidates
        # repeating a team); run it here so the error names this key.
        hook = _converted(hook, converter)
    return _optional(hook) if optional else hook


def _converted(hook: _Hook, converter: Callable[[Any], Any]) -> _Hook:
    def structure(value: Any, _type: Any = None) -> Any:
        return converter(hook(value))

    return structure


def _field_unhook(attribute: attrs.Attribute[Any]) -> _Unhook | None:
    base, _ = _split_optional(attribute.type)
    if base == StatusBilling:
        return _unstructure_status
    if typing.get_origin(base) is tuple:
        item = _unstructure_hook(typing.get_args(base)[0])
        return lambda items: [item(element) for element in items]
    if base in _MODELS:
        return _unstructure_hook(base)  # no model field is an optional model but the status
    return None  # cattrs' own: identity for primitives


def _unstructure_status(status: StatusBilling | None) -> dict[str, Any] | None:
    return None if status is None else _unstructure_hook(type(status))(status)


def _wire_fields(cls: type) -> list[attrs.Attribute[Any]]:
    """The fields of ``cls`` as read: a key is required unless it may be left out."""
    attrs.resolve_types(cls)
    return [
        attribute if _may_be_left_out(cls, attribute) else attribute.evolve(default=attrs.NOTHING)
        for attribute in attrs.fields(cls)
    ]


def _generate(cls: type, *, fast: bool) -> _Hook:
    fields = _wire_fields(cls)
    # typed loosely: mypy cannot tell these keys from the generator's own options
    renames: dict[str, Any] = {
        a.name: override(rename=_wire_key(a.name), struct_hook=_field_hook(a, fast=fast))
        for a in fields
    }
    return make_dict_structure_fn_from_attrs(
        fields,
        cls,
        _converter,
        _cattrs_detailed_validation=not fast,
        _cattrs_forbid_extra_keys=False,
        **renames,
    )


def _make_fast(cls: type) -> tuple[_Hook, _Hook]:
    tag = getattr(cls, _SOURCE_KEY, None)
    generated = _generate(cls, fast=True)
    one = _object(cls, generated, tag)
    return one, (_fast_list(one) if tag else _fast_object_list(generated))


def _make_detailed(cls: type) -> _Hook:
    return _object(cls, _generate(cls, fast=False), getattr(cls, _SOURCE_KEY, None))


def _make_unstructure(cls: type) -> _Unhook:
    attrs.resolve_types(cls)
    unrenames: dict[str, Any] = {
        a.name: override(
            rename=_wire_key(a.name),
            omit_if_default=_may_be_left_out(cls, a),  # left out when None (or false)
            unstruct_hook=_field_unhook(a),
        )
        for a in attrs.fields(cls)
    }
    untagged: _Unhook = make_dict_unstructure_fn(cls, _converter, **unrenames)
    tag = getattr(cls, _SOURCE_KEY, None)
    if tag is None:
        return untagged

    def unstructure(obj: Any) -> dict[str, Any]:
        return {_SOURCE_KEY: tag, **untagged(obj)}

    return unstructure


# --- public API -----------------------------------------------------------------


@overload
def to_wire(obj: WireModel) -> dict[str, Any]: ...


@overload
def to_wire(obj: Sequence[WireModel]) -> list[dict[str, Any]]: ...


def to_wire(obj: WireModel | Sequence[WireModel]) -> dict[str, Any] | list[dict[str, Any]]:
    """The wire JSON of a model, or of a list or tuple of models, as plain JSON values.

    Keys are camelCase, optional keys are left out when ``None``, ``StatusBilling``
    variants carry their ``source``. The result is ready for :func:`json.dumps`.

    >>> from billing_core.models import FreeBilling
    >>> to_wire([FreeBilling(remaining=950, total=1_000), FreeBilling()])
    [{'source': 'free', 'remaining': 950, 'total': 1000}, {'source': 'free'}]
    """
    if type(obj) is list or type(obj) is tuple:
        hooks = _UNSTRUCTURE
        try:
            return [hooks[type(item)](item) for item in obj]
        except KeyError:
            pass
        for kind in {type(item) for item in obj}:  # a first use, or not a model
            if kind not in _MODELS:
                raise _not_a_model(next(item for item in obj if type(item) is kind))
            _unstructure_hook(kind)
        return [hooks[type(item)](item) for item in obj]
    if type(obj) not in _MODELS:
        raise _not_a_model(obj)
    result: dict[str, Any] = _unstructure_hook(type(obj))(obj)
    return result


def _not_a_model(obj: object) -> TypeError:
    return TypeError(
        f"to_wire expects a billing_core model or a list of them, not {type(obj).__name__}"
    )


@overload
def from_wire(tp: type[T], data: object, *, path: str = "") -> T: ...


@overload
def from_wire(tp: object, data: object, *, path: str = "") -> Any: ...


def from_wire(tp: object, data: object, *, path: str = "") -> Any:
    """Read wire JSON (as :func:`json.loads` returns it) into ``tp``.

    ``tp`` is a model class, ``StatusBilling`` (the right variant is chosen by
    ``source``), or ``list[X]`` of either. JSON objects must be ``dict`` and
    arrays ``list``. Keys whose field is optional may be missing or ``null``;
    a status's ``limitExceeded`` may be missing (false) but not ``null``;
    every other key is required. Unknown keys are ignored.

    ``path`` names where ``data`` sits in a larger payload and prefixes the
    path of any error, so an HTTP adapter reading ``body["organizations"]``
    passes ``path="organizations"`` and a bad value reads
    ``organizations[3].remaining``.

    Raises :class:`~billing_core.errors.BillingPayloadError` for any payload
    that is not the wire form of ``tp``; ``error.path`` locates the bad value.

    >>> from billing_core.models import StatusBilling
    >>> from_wire(StatusBilling, {"source": "free", "remaining": 950, "total": 1000})
    FreeBilling(remaining=950, total=1000, limit_exceeded=False)
    >>> from_wire(list[StatusBilling], [{"source": "paid"}], path="statuses")
    Traceback (most recent call last):
      ...
    billing_core.errors.BillingPayloadError: statuses[0].organizationId: required key is missing
    """
    fast, detailed = _hooks_for(tp)
    try:
        return fast(data)
    except Exception as error:
        fast_error = error
    raise _diagnose(detailed(), data, path=path, fast_error=fast_error)


# Per type read: its fast reader, and how to get its detailed one (made on a bad payload).
_PLANS: Final[dict[object, tuple[_Hook, Callable[[], _Hook]]]] = {}


def _hooks_for(tp: object) -> tuple[_Hook, Callable[[], _Hook]]:
    """The fast hook reading ``tp`` and the maker of its detailed one; once per type."""
    try:
        return _PLANS[tp]
    except KeyError:
        pass
    except TypeError:  # unhashable: certainly not a type we read
        raise _cannot_read(tp) from None
    plan: tuple[_Hook, Callable[[], _Hook]]
    if tp == StatusBilling:
        plan = (_union_hook(fast=True), lambda: _union_hook(fast=False))
    elif tp in _MODELS:
        model: type = tp
        plan = (_fast_hook(model), lambda: _detailed_hook(model))
    elif typing.get_origin(tp) is list and len(typing.get_args(tp)) == 1:
        (item,) = typing.get_args(tp)
        if item == StatusBilling:
            plan = (
                _fast_list(_union_hook(fast=True)),
                lambda: _detailed_list(_union_hook(fast=False)),
            )
        elif item in _MODELS:
            plan = (_fast_hooks(item)[1], lambda: _detailed_list(_detailed_hook(item)))
        else:
            raise _cannot_read(tp)
    else:
        raise _cannot_read(tp)
    _PLANS[tp] = plan
    return plan


def _cannot_read(tp: object) -> TypeError:
    return TypeError(
        f"from_wire reads a billing_core model class, StatusBilling or list[...] of them, "
        f"not {tp!r}"
    )


def _diagnose(detailed: _Hook, data: object, *, path: str, fast_error: Exception) -> Exception:
    """Re-read ``data`` with the detailed hooks to say which value is bad and why."""
    try:
        detailed(data)
    except Exception as error:
        where, culprit = _locate(error)
        failure = BillingPayloadError(_describe(culprit), path=_join(path, where))
        failure.__cause__ = culprit
        return failure
    # The detailed pass checks everything the fast one does; should they ever
    # disagree, the payload is still refused.
    failure = BillingPayloadError(_describe(fast_error), path=path)
    failure.__cause__ = fast_error
    return failure


def _locate(error: BaseException) -> tuple[str, BaseException]:
    """Follow cattrs' notes down to the first failing value: (relative path, its error)."""
    where = ""
    while True:
        if isinstance(error, ClassValidationError):
            located, others = error.group_exceptions()
            if located:
                error, attribute_note = located[0]
                where += "." + _wire_key(attribute_note.name)
                continue
            error = others[0]  # the model refused the object as a whole
        elif isinstance(error, IterableValidationError):
            located_items, others = error.group_exceptions()
            if located_items:
                error, index_note = located_items[0]
                where += f"[{index_note.index}]"
                continue
            error = others[0]
        else:
            return where, error


def _describe(error: BaseException) -> str:
    if isinstance(error, KeyError):
        return "required key is missing"
    return str(error) or type(error).__name__


def _join(prefix: str, relative: str) -> str:
    if not prefix:
        return relative.removeprefix(".")
    return prefix + relative
