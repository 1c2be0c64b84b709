"""What `rag config` shows: each setting's effective value and where it came from, with secrets masked."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from rag.config import Settings, user_config_file

Origin = Literal["env", ".env", "config file", "default"]
SECRET_FIELDS = frozenset({"chat_api_key", "api_keys"})


@dataclass(frozen=True)
class SettingRow:
    variable: str  # the environment variable that sets it, e.g. RAG_MAX_TOKENS
    value: Any
    origin: Origin


def mask(name: str, value: Any) -> Any:
    """Secrets show only whether they are set (and how many keys), never a character of them."""
    if name == "database_url" and value:
        return _without_password(str(value))
    if name not in SECRET_FIELDS or not value:
        return value
    if name == "api_keys":
        count = len([k for k in str(value).split(",") if k.strip()])
        return f"**** ({count} key{'s' if count != 1 else ''})"
    return "****"


def describe_settings(settings: Settings, env_file: Path | None = Path(".env")) -> list[SettingRow]:
    """Every field in declaration order, masked, with the source that won (the same order pydantic-settings
    applies: environment, then `.env`, then the user's config file)."""
    from dotenv import dotenv_values

    environment = {k.upper() for k in os.environ}
    dotenv = {k.upper() for k in dotenv_values(env_file)} if env_file is not None and env_file.is_file() else set()
    config = user_config_file()
    in_file = set(tomllib.loads(config.read_text())) if config.is_file() else set()
    rows = []
    for name, field in Settings.model_fields.items():
        variable = field.validation_alias if isinstance(field.validation_alias, str) else f"RAG_{name.upper()}"
        origin: Origin = "default"
        if variable.upper() in environment:
            origin = "env"
        elif variable.upper() in dotenv:
            origin = ".env"
        elif name in in_file or variable in in_file:
            origin = "config file"
        value = getattr(settings, name)
        rows.append(SettingRow(variable, mask(name, str(value) if isinstance(value, Path) else value), origin))
    return rows


def _without_password(url: str) -> str:
    """A database URL with its password (if any) masked; the rest helps to see where the data lives."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:****@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
