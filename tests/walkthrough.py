"""Runs docs/walkthrough.md's shell blocks, in order, in one bash, against a running stack,
so the walk-through a newcomer reads is one that works.

    python3 tests/walkthrough.py [docs/walkthrough.md] [stripe|zarinpal]

A block fenced as ```sh runs always; ```sh stripe or ```sh zarinpal only for that
provider. The environment gives the API (PEYMAN_API), the demo users' tokens
(BUYER_TOKEN, SELLER_TOKEN, SUPPORT_TOKEN) and the rest of what stack.sh exports; every
block runs under `set -euo pipefail`, so the first failing check stops the walk and is
reported with the line of the document it is in. Exits with bash's status.
"""

import os
import re
import subprocess
import sys

FENCE = re.compile(r"^```sh(?:\s+(\w+))?\s*$")


def blocks(text: str, provider: str) -> list[tuple[int, str]]:
    """(first line number, source) of each block that runs for `provider`."""
    found, current, start, runs = [], None, 0, False
    for number, line in enumerate(text.splitlines(), 1):
        if current is None:
            match = FENCE.match(line)
            if match:
                current, start, runs = [], number + 1, match.group(1) in (None, provider)
        elif line.startswith("```"):
            if runs:
                found.append((start, "\n".join(current)))
            current = None
        else:
            current.append(line)
    if current is not None:
        raise SystemExit(f"a block opened on line {start - 1} is never closed")
    return found


def script(path: str, provider: str) -> str:
    parts = ["set -euo pipefail"]
    for start, source in blocks(open(path, encoding="utf-8").read(), provider):
        # Each block says where it is, so a failure points at the document's line.
        parts.append(f"echo \"--- {path}:{start} (at ${{SECONDS}} s)\" >&2")
        parts.append(source)
    return "\n".join(parts) + "\n"


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else "docs/walkthrough.md"
    provider = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("PAYMENT_PROVIDER", "stripe")
    env = dict(os.environ, PAYMENT_PROVIDER=provider)
    missing = [name for name in ("PEYMAN_API", "BUYER_TOKEN", "SELLER_TOKEN", "SUPPORT_TOKEN") if not env.get(name)]
    if missing:
        print(f"walkthrough: {', '.join(missing)} not set; run it inside infra/local/stack.sh", file=sys.stderr)
        return 2
    result = subprocess.run(["bash", "-c", script(path, provider)], env=env)
    verdict = "passed" if result.returncode == 0 else f"FAILED (exit {result.returncode}; the last '---' line above is the block)"
    print(f"walkthrough ({provider}) {verdict}", file=sys.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
