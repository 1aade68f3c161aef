"""The published OpenAPI document, docs/openapi.json, from which typed clients are made.

It is rendered from an app built with the default settings, read from neither the
environment nor a .env file, so the same code gives the same bytes on every machine:

    python -m app.openapi_doc --write    # regenerate docs/openapi.json
    python -m app.openapi_doc --check    # exit 1 if docs/openapi.json is out of date
    python -m app.openapi_doc            # print it
"""

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from app.config import Settings
from app.main import create_app

DOCUMENT_PATH = Path("docs/openapi.json")
REGENERATE_COMMAND = "python -m app.openapi_doc --write"


class _DefaultSettings(Settings):
    """The settings' defaults, whatever TEND_* variables this process has."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of an app with the default settings. Its in-memory database is
    never opened, and its secret key is a random one that nothing in the document uses."""
    app = create_app(_DefaultSettings(database_url="sqlite://", scheduler="off"))
    try:
        return app.openapi()
    finally:
        app.state.engine.dispose()


def render_openapi() -> str:
    """docs/openapi.json's exact text: FastAPI's order of keys, two spaces of indent, UTF-8
    characters as they are, and a final newline."""
    return json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n"


def write_openapi(path: Path = DOCUMENT_PATH) -> bool:
    """Write the document to ``path`` (its directory must exist); True if it changed."""
    text = render_openapi()
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8", newline="\n")
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m app.openapi_doc", description="Render Tend's OpenAPI document."
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="write it to --path")
    action.add_argument(
        "--check", action="store_true", help="exit 1 if the file at --path is out of date"
    )
    parser.add_argument(
        "--path", type=Path, default=DOCUMENT_PATH, help=f"default: {DOCUMENT_PATH}"
    )
    args = parser.parse_args(argv)
    if args.write:
        changed = write_openapi(args.path)
        print(f"{args.path}: {'updated' if changed else 'already up to date'}", file=sys.stderr)
        return 0
    if args.check:
        current = args.path.read_text(encoding="utf-8") if args.path.exists() else None
        if current != render_openapi():
            print(
                f"{args.path} is out of date; regenerate it with: {REGENERATE_COMMAND}",
                file=sys.stderr,
            )
            return 1
        return 0
    # Bytes, so that the file is UTF-8 with \n line ends whatever the console's settings.
    sys.stdout.buffer.write(render_openapi().encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
