"""The Docker images the benchmarks run, built once per harness run: the image from this tree (with the
static binary bench/run built), and, for before-and-after sections, the image and binary of a baseline
git revision, built from a worktree of it."""
import os
import shutil
import subprocess
import types

from common import ROOT

DOCKER = "/usr/bin/docker"
BASE_IMAGE = "lifeguard/mariadb-base:bookworm"
IMAGE = "lifeguard/mariadb:bench"
BASELINE_IMAGE = "lifeguard/mariadb:baseline"
_built = {}


def build(tag, context, log):
    for command in ([os.path.join(ROOT, "scripts/build-base-image"), BASE_IMAGE],
                    [DOCKER, "build", "--network", "host", "-q", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}",
                     "--build-arg", "BINARY_SOURCE=prebuilt", "-t", tag, "."]):
        result = subprocess.run(command, cwd=context, capture_output=True, text=True, env=dict(os.environ, DOCKER_BUILDKIT="1"))
        if result.returncode != 0:
            raise SystemExit(f"bench: {' '.join(command)} failed: {result.stderr[-2000:]}")
    log(f"bench: image {tag} built from {context}")


def current(options):
    """The image built from this tree."""
    if "current" not in _built:
        build(IMAGE, ROOT, options.log)
        _built["current"] = IMAGE
    return _built["current"]


def baseline(options):
    """(label, binary, image) of `options.baseline_ref` (bench/run --baseline; default origin/main), built
    in a worktree under .build/baseline; None when there is no such revision."""
    if "baseline" not in _built:
        ref = options.baseline_ref
        revision = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", ref], capture_output=True, text=True)
        if revision.returncode != 0:
            options.log(f"bench: no baseline revision {ref}: the sections that compare show the tree alone")
            _built["baseline"] = None
            return None
        short = revision.stdout.strip()
        tree = os.path.join(ROOT, ".build", "baseline")
        if os.path.isdir(tree):
            subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", tree], capture_output=True)
            shutil.rmtree(tree, ignore_errors=True)
        subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", tree, short], check=True, capture_output=True)
        options.log(f"bench: building the baseline {short} in {tree}")
        subprocess.run([os.path.join(tree, "scripts/build-static")], cwd=tree, check=True, capture_output=True)
        build(BASELINE_IMAGE, tree, options.log)
        _built["baseline"] = types.SimpleNamespace(label=f"git {short}", binary=os.path.join(tree, ".build/static/lifeguard"),
                                                   image=BASELINE_IMAGE)
    return _built["baseline"]
