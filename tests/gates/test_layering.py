"""The domains' one-way layering (pyproject's [tool.importlinter] contracts) holds, and it
would catch each of the upward arrows that once tied the domains into one knot."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

# (the file that would gain the import, the import, the contract it breaks)
LAYERS = "Domains depend one way"
INFRASTRUCTURE = "Infrastructure knows no domain"
ROUTES = "Routes are mounted by app.main only; domains call services, never routes"
UPWARD_ARROWS = [
    ("app/accounts/service.py", "from app.couples import service", LAYERS),
    ("app/accounts/service.py", "from app.coaching import service", LAYERS),
    ("app/accounts/service.py", "from app.bank import service", LAYERS),
    ("app/accounts/service.py", "from app.bids.models import Bid", LAYERS),
    ("app/accounts/service.py", "from app.nudges import service", LAYERS),
    ("app/lifecycle/export.py", "from app.main import create_app", LAYERS),
    ("app/couples/service.py", "from app.bank import service", LAYERS),
    ("app/couples/service.py", "from app.coaching import service", LAYERS),
    ("app/bank/service.py", "from app.bids.models import Bid", LAYERS),
    ("app/bank/service.py", "from app.stats import streaks", LAYERS),
    ("app/stats/service.py", "from app.coaching import service", LAYERS),
    ("app/nudges/service.py", "from app.bids.models import Bid", LAYERS),
    ("app/nudges/service.py", "from app.stats import service", LAYERS),
    ("app/bids/service.py", "from app.planning import service", LAYERS),
    ("app/coaching/service.py", "from app.lifecycle import service", LAYERS),
    ("app/outbox/service.py", "from app.accounts.models import User", LAYERS),
    ("app/deps.py", "from app.couples import service", INFRASTRUCTURE),
    ("app/db.py", "from app.bids.models import Bid", INFRASTRUCTURE),
    ("app/lifecycle/service.py", "from app.couples import router", ROUTES),
    ("app/stats/service.py", "from app.bank import router", ROUTES),
]


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_contracts_are_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(("path", "statement", "contract"), UPWARD_ARROWS)
def test_an_upward_import_breaks_a_contract(
    tmp_path: Path, path: str, statement: str, contract: str
) -> None:
    shutil.copytree(ROOT / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with (tmp_path / path).open("a", encoding="utf-8") as source:
        source.write(f"\n{statement}  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = result.stdout.split("Broken contracts", 1)[1]
    assert f"{contract}\n" in broken, result.stdout
    assert "1 broken" in result.stdout or "2 broken" in result.stdout
