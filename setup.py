"""Build hook: a built drimva records the git commit it was built from (``drimva --version``).

Everything else is in pyproject.toml. An editable install reads the commit from
the checkout at run time instead (``drimva/installation.py``).
"""

import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


def _git_commit() -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(Path(__file__).resolve().parent), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


class BuildPyWithCommit(build_py):
    def run(self) -> None:
        super().run()
        commit = _git_commit()
        if commit and not getattr(self, "editable_mode", False):
            target = Path(self.build_lib) / "drimva" / "_commit.txt"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(commit + "\n", "ascii")


setup(cmdclass={"build_py": BuildPyWithCommit})
