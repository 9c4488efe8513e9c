"""Checks what `sam build` left in .aws-sam/build: every function of the template has an
executable `bootstrap` (what the provided.al2023 runtime starts), and prints the size of
each deployment zip as `sam deploy` would upload it. Exits non-zero if any is missing, or
if a zip is over ZIP_LIMIT (issue 12's goal: a small zip is a faster cold start and cheaper
to store; what made them small is in the README's "One HTTP and TLS stack").

    python3 infra/ops/check_package.py [infra/template.yaml] [.aws-sam/build]
"""

import io
import os
import re
import sys
import zipfile

ZIP_LIMIT = 2_500_000


def functions(template: str) -> list[str]:
    # Resource ids at two spaces' indent followed by the serverless function type; the
    # template's own tags (!Ref, !Sub) keep a YAML loader without CloudFormation's tags out.
    text = open(template, encoding="utf-8").read()
    return re.findall(r"^  (\w+):\n    Type: AWS::Serverless::Function$", text, re.M)


def zipped_size(directory: str) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(os.listdir(directory)):
            archive.write(os.path.join(directory, name), name)
    return buffer.tell()


def main() -> int:
    template = sys.argv[1] if len(sys.argv) > 1 else "infra/template.yaml"
    build = sys.argv[2] if len(sys.argv) > 2 else ".aws-sam/build"
    missing = []
    rows = []
    for function in functions(template):
        bootstrap = os.path.join(build, function, "bootstrap")
        if not (os.path.isfile(bootstrap) and os.access(bootstrap, os.X_OK)):
            missing.append(function)
            continue
        rows.append((function, os.path.getsize(bootstrap), zipped_size(os.path.join(build, function))))
    for function, raw, packed in rows:
        print(f"{function:28} bootstrap {raw / 1e6:5.2f} MB   zip {packed / 1e6:4.2f} MB")
    if missing or not rows:
        print(f"no executable bootstrap for: {', '.join(missing) or 'any function'}", file=sys.stderr)
        return 1
    too_large = [function for function, _, packed in rows if packed > ZIP_LIMIT]
    if too_large:
        print(f"zips over {ZIP_LIMIT / 1e6} MB: {', '.join(too_large)}", file=sys.stderr)
        return 1
    print(f"{len(rows)} functions packaged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
