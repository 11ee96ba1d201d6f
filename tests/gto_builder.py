"""Build a gto repository with gto's own command line: `python gto_builder.py PLAN.json`.

Every step is a real `gto` command (register, assign, unassign, deregister, deprecate),
run through gto's click app in this one process, which saves the ~2 s each `gto` start
costs. gto stamps a tag with the second it is made (scmrepo's pygit2 backend signs it with
pygit2's default signature, whose time is now; it refuses GIT_COMMITTER_DATE), so the
builder gives that signature each step's `at`: steps land seconds apart, or in the same
second where a test wants a tie. The plan is JSON:

    {"repo": "...", "steps": [{"at": 1767261600, "files": {"m.pkl": "..."},
                               "commit": "train", "gto": ["register", "churn"]}, ...]}
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def main(plan_path: str) -> None:
    from click.testing import CliRunner
    from gto.cli import app
    from pygit2 import Signature
    from scmrepo.git.backend.pygit2 import Pygit2Backend

    plan = json.loads(Path(plan_path).read_text())
    repo = Path(plan["repo"])
    clock = {"now": 0}
    real = Pygit2Backend._get_signature

    def signed_at(self: Pygit2Backend, name: str) -> Signature:
        sig = real(self, name)
        return Signature(name=sig.name, email=sig.email, time=clock["now"], offset=0)

    Pygit2Backend._get_signature = signed_at  # type: ignore[method-assign]
    runner = CliRunner()
    try:
        for step in plan["steps"]:
            clock["now"] = step["at"]
            for rel, text in step.get("files", {}).items():
                (repo / rel).parent.mkdir(parents=True, exist_ok=True)
                (repo / rel).write_text(text)
            if "commit" in step:
                env = {"GIT_AUTHOR_DATE": f"@{step['at']} +0000"}
                env["GIT_COMMITTER_DATE"] = env["GIT_AUTHOR_DATE"]
                subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
                subprocess.run(
                    ["git", "commit", "-q", "-m", step["commit"]],
                    cwd=repo,
                    check=True,
                    env={**os.environ, **env},
                )
            if "gto" in step:
                result = runner.invoke(app, [*step["gto"], "--repo", str(repo)])
                if result.exit_code != 0:
                    sys.exit(f"gto {' '.join(step['gto'])} failed: {result.output}")
    finally:
        Pygit2Backend._get_signature = real  # type: ignore[method-assign]


if __name__ == "__main__":
    main(sys.argv[1])
