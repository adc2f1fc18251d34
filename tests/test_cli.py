from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

AMENDS = Path(sys.executable).with_name("amends")


def run(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(AMENDS), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def test_the_demo_seeds_once_and_the_chores_work_from_the_command_line(tmp_path: Path) -> None:
    env = {**os.environ, "AMENDS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
           "COLUMNS": "200"}
    first = run("demo", "--no-serve", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert "agent@demo.example" in first.stdout
    assert first.stdout.count("amk_") == 5
    second = run("demo", "--no-serve", cwd=tmp_path, env=env)
    assert second.returncode == 0
    assert "exists already" in second.stdout
    assert "amk_" not in second.stdout

    assert run("create-org", "acme", "Acme Ltd", cwd=tmp_path, env=env).returncode == 0
    dup = run("create-org", "acme", "Acme again", cwd=tmp_path, env=env)
    assert dup.returncode == 1
    assert "taken" in dup.stdout
    user = run("create-user", "--org", "acme", "--email", "Jo@Acme.test", "--name", "Jo",
               "--role", "supervisor", "--password", "long enough password", cwd=tmp_path,
               env=env)
    assert user.returncode == 0, user.stderr
    assert "jo@acme.test" in user.stdout
    key = run("create-api-key", "--org", "acme", "--name", "till", "--scope",
              "redemptions:write", cwd=tmp_path, env=env)
    assert key.returncode == 0
    assert "amk_" in key.stdout
    bad = run("create-api-key", "--org", "acme", "--name", "x", "--scope", "root",
              cwd=tmp_path, env=env)
    assert bad.returncode == 1
    assert "Unknown" in bad.stdout
