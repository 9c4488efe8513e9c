"""`make package`: every function of the template built by one `cargo lambda build
--release` (one cargo invocation, so the dependencies are compiled once and the functions'
link-time optimisation runs on every core), laid out in .aws-sam/build as `sam build` lays
it out (a folder per function with its `bootstrap`, and a template whose CodeUris point
there), so `sam deploy` picks it up as it is. Then every function is checked to hold an
executable bootstrap, and each deployment zip's size is printed; any zip over ZIP_LIMIT
fails (3.5 MB since issue 24 brought the SDK's S3 client back; issue 12 had held them to
2.5 MB: a small zip is a faster cold start and cheaper to store).

    python3 infra/ops/package.py [--build-only | --check-only] [--arch arm64|x86_64]

The architecture is arm64 where the aarch64 Rust target is installed and x86_64 otherwise
(a fresh machine may lack the aarch64 std and cannot fetch it); the built template's
`Architecture` default says which, so deploy with the same. cargo-lambda and zig come from
.venv/cargo-lambda (pinned in infra/requirements/cargo-lambda.txt).
"""

import io
import os
import re
import shutil
import subprocess
import sys
import zipfile

ZIP_LIMIT = 3_500_000
TEMPLATE = "infra/template.yaml"
BUILD = ".aws-sam/build"


def functions(template: str) -> list[tuple[str, str]]:
    """(resource id, binary) of every function. Resource ids sit at two spaces' indent
    followed by the serverless function type; the template's own tags (!Ref, !Sub) keep a
    YAML loader without CloudFormation's tags out."""
    found = re.findall(
        r"^  (\w+):\n    Type: AWS::Serverless::Function\n    Metadata:\n(?:      .*\n)*?        Binary: ([\w-]+)$",
        template,
        re.M,
    )
    every = re.findall(r"^  (\w+):\n    Type: AWS::Serverless::Function$", template, re.M)
    named = [resource for resource, _ in found]
    unnamed = [resource for resource in every if resource not in named]
    if unnamed:
        raise SystemExit(f"no BuildProperties.Binary for: {', '.join(unnamed)}")
    return found


def built_template(template: str, resources: list[str], arch: str) -> str:
    """The template with each function's `CodeUri: ..` pointing at its folder here, and the
    architecture it was built for as the default."""
    out = template
    for resource in resources:
        block = re.search(rf"^  {resource}:\n(?:(?:    .*)?\n)*", out, re.M)
        if not block:
            raise SystemExit(f"{resource}: not found in the template")
        text = block.group(0)
        if "      CodeUri: ..\n" not in text:
            raise SystemExit(f"{resource}: expected `CodeUri: ..` (the workspace root)")
        out = out[: block.start()] + text.replace("      CodeUri: ..\n", f"      CodeUri: {resource}\n") + out[block.end():]
    out, n = re.subn(r"(^  Architecture:\n(?:    .*\n)*?    Default: )\w+$", rf"\g<1>{arch}", out, count=1, flags=re.M)
    if n != 1:
        raise SystemExit("the template's Architecture parameter has no Default to set")
    return out


def build(binaries: list[str], arch: str) -> None:
    venv_bin = os.path.abspath(".venv/cargo-lambda/bin")
    env = dict(os.environ, PATH=venv_bin + os.pathsep + os.environ["PATH"])
    # The debug build lints the workspace (the Makefile's clippy-driver); the release
    # build need not lint it again.
    env.pop("RUSTC_WORKSPACE_WRAPPER", None)
    env.pop("CLIPPY_ARGS", None)
    command = ["cargo", "lambda", "build", "--release", "--arm64" if arch == "arm64" else "--x86-64"]
    for binary in binaries:
        command += ["-p", binary]
    subprocess.run(command, env=env, check=True)


def zipped_size(directory: str) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(os.listdir(directory)):
            archive.write(os.path.join(directory, name), name)
    return buffer.tell()


def check(resources: list[str]) -> int:
    missing, rows = [], []
    for resource in resources:
        bootstrap = os.path.join(BUILD, resource, "bootstrap")
        if not (os.path.isfile(bootstrap) and os.access(bootstrap, os.X_OK)):
            missing.append(resource)
            continue
        rows.append((resource, os.path.getsize(bootstrap), zipped_size(os.path.join(BUILD, resource))))
    for resource, raw, packed in rows:
        print(f"{resource:28} bootstrap {raw / 1e6:5.2f} MB   zip {packed / 1e6:4.2f} MB")
    if missing or not rows:
        print(f"no executable bootstrap for: {', '.join(missing) or 'any function'}", file=sys.stderr)
        return 1
    too_large = [resource for resource, _, packed in rows if packed > ZIP_LIMIT]
    if too_large:
        print(f"zips over {ZIP_LIMIT / 1e6} MB: {', '.join(too_large)}", file=sys.stderr)
        return 1
    print(f"{len(rows)} functions packaged in {BUILD}")
    return 0


def default_arch() -> str:
    installed = subprocess.run(["rustup", "target", "list", "--installed"], capture_output=True, text=True).stdout
    return "arm64" if "aarch64-unknown-linux-gnu" in installed else "x86_64"


def main() -> int:
    args = sys.argv[1:]
    arch = args[args.index("--arch") + 1] if "--arch" in args else default_arch()
    template = open(TEMPLATE, encoding="utf-8").read()
    listed = functions(template)
    resources = [resource for resource, _ in listed]
    if "--check-only" not in args:
        build([binary for _, binary in listed], arch)
        shutil.rmtree(BUILD, ignore_errors=True)
        for resource, binary in listed:
            os.makedirs(os.path.join(BUILD, resource))
            shutil.copy2(os.path.join("target/lambda", binary, "bootstrap"), os.path.join(BUILD, resource, "bootstrap"))
        with open(os.path.join(BUILD, "template.yaml"), "w", encoding="utf-8") as out:
            out.write(built_template(template, resources, arch))
        print(f"built for {arch}")
        if "--build-only" in args:
            return 0
    return check(resources)


if __name__ == "__main__":
    sys.exit(main())
