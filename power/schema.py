"""
Declarative power settings: what each power type needs, and how a value is checked.

A :class:`PowerType` is a name, a description and a list of :class:`Setting`.
:meth:`PowerType.describe` publishes exactly the JSON MAAS 1.8 published for
``describe_power_types`` (``{name, description, fields: [{name, label,
required, field_type, choices, default}]}``).  Two things are ours and never
published: ``secret`` (drives redaction, see ``power.redact``) and ``address``
(the value is a network address, checked by ``power.address``).

This module is pure: the region imports it to validate parameters, so it must
not pull in Twisted's process machinery.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from power.address import AddressError, parse_address

FIELD_TYPES = frozenset({"string", "mac_address", "choice", "password"})

_MAC = re.compile(r"^([0-9A-Fa-f]{2})([:-]?)((?:[0-9A-Fa-f]{2}\2){4}[0-9A-Fa-f]{2})$")


class ParameterErrors(ValueError):
    """Power parameters failed validation: ``errors`` maps field name → messages."""

    def __init__(self, errors: Mapping[str, Sequence[str]]) -> None:
        self.errors = {name: list(messages) for name, messages in errors.items()}
        super().__init__(
            "; ".join(f"{name}: {' '.join(messages)}" for name, messages in self.errors.items())
        )


def normalise_mac(value: str) -> str:
    """``aa:bb:cc:dd:ee:ff`` from any of the usual spellings, or ValueError."""
    text = value.strip()
    match = _MAC.match(text)
    if match is None:
        raise ValueError(f"'{value}' is not a valid MAC address.")
    digits = re.sub(r"[:-]", "", text).lower()
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("Enter a string.")
    return str(value)


def _choices(pairs: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((str(value), str(label)) for value, label in pairs)


@attrs.frozen
class Setting:
    """
    One power parameter.

    :param name: the key in the node's ``power_parameters``.
    :param label: what the UI shows.
    :param field_type: ``string``, ``mac_address``, ``choice`` or ``password``.
    :param choices: ``(value, label)`` pairs for a ``choice`` field.
    :param default: published default, and the value a driver uses when unset.
    :param required: published as-is; every built-in 1.8 field says ``False``.
    :param secret: never logged, and hidden from non-admin API replies.
    :param address: the value must parse as a network address (``host[:port]``).
    """

    name: str
    label: str
    field_type: str = attrs.field(default="string")
    choices: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_choices)
    default: str = ""
    required: bool = False
    secret: bool = False
    address: bool = False

    @field_type.validator
    def _check_type(self, _attribute: object, value: str) -> None:
        if value not in FIELD_TYPES:
            raise ValueError(f"unknown field_type {value!r}")

    def describe(self) -> dict[str, Any]:
        """This field as 1.8's ``make_json_field`` rendered it."""
        return {
            "name": self.name,
            "label": self.label,
            "required": self.required,
            "field_type": self.field_type,
            "choices": [[value, label] for value, label in self.choices],
            "default": self.default,
        }

    def clean(self, value: Any) -> str:
        """The cleaned value, or ValueError with the message for the user."""
        text = _as_text(value)
        if text == "":
            if self.required:
                raise ValueError("This field is required.")
            return text
        if self.field_type == "choice":
            if text not in {choice for choice, _ in self.choices}:
                raise ValueError(
                    f"Select a valid choice. {text} is not one of the available choices."
                )
        elif self.field_type == "mac_address":
            return normalise_mac(text)
        elif self.address:
            try:
                parse_address(text)
            except AddressError as error:
                raise ValueError(str(error)) from None
            return text.strip()
        return text


def _settings(items: Iterable[Setting]) -> tuple[Setting, ...]:
    return tuple(items)


@attrs.frozen
class PowerType:
    """
    A power type: what the user picks as a node's ``power_type``.

    :param queryable: the cluster may ask its state (1.8's ``QUERY_POWER_TYPES``).
    :param driver: ``"module:Class"`` of the driver, or None if there is none yet.
    """

    name: str
    description: str
    settings: tuple[Setting, ...] = attrs.field(converter=_settings)
    queryable: bool = False
    driver: str | None = None

    @property
    def has_driver(self) -> bool:
        return self.driver is not None

    def setting(self, name: str) -> Setting | None:
        for setting in self.settings:
            if setting.name == name:
                return setting
        return None

    @property
    def secret_names(self) -> frozenset[str]:
        return frozenset(s.name for s in self.settings if s.secret)

    def describe(self) -> dict[str, Any]:
        """This power type as ``describe_power_types`` publishes it."""
        return {
            "name": self.name,
            "description": self.description,
            "fields": [setting.describe() for setting in self.settings],
        }

    def clean(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """
        Check every known field; return the cleaned parameters.

        Known fields are cleaned (MACs normalised, addresses stripped); keys the
        schema does not know are kept unchanged (see ``power.registry``).
        Missing fields are not filled in: drivers use the defaults.
        """
        cleaned: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        for key, value in params.items():
            setting = self.setting(key)
            if setting is None:
                cleaned[key] = value
                continue
            try:
                cleaned[key] = setting.clean(value)
            except ValueError as error:
                errors.setdefault(key, []).append(str(error))
        for setting in self.settings:
            if setting.required and setting.name not in params:
                errors.setdefault(setting.name, []).append("This field is required.")
        if errors:
            raise ParameterErrors(errors)
        return cleaned
