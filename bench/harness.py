#!/usr/bin/env python3
"""Runs the benchmarks side by side, prints each table and writes BENCHMARKS.md.
Started by bench/run, which builds what this needs first; see bench/README.md."""
import argparse
import datetime
import os
import platform
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import importlib  # noqa: E402

from common import LIFEGUARD, ROOT  # noqa: E402

# Section name → module (in bench/) whose run(options) returns a section or a list of them.
SECTIONS = {
    "footprint": "footprint",
    "idle": "idle",
    "race": "race",
    "mariadb-race": "mariadb_race",
    "probe": "probe",
    "restart": "restart",
    "reclaim": "reclaim",
    "false-stops": "false_stops",
    "runaway": "runaway",
    "resurrect": "resurrect",
}


def version(command):
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=20)
        text = (result.stdout or result.stderr).strip().splitlines()
        return text[0].strip() if text else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"


def machine():
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    memory = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    return [
        ("date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("machine", f"{model}, {os.cpu_count()} CPUs, {memory / 1048576:.1f} GiB RAM"),
        ("kernel", f"{platform.release()} (memory cgroup v1)"),
        ("lifeguard", version([LIFEGUARD, "--version"]) + f", git {version(['git', '-C', ROOT, 'rev-parse', '--short', 'HEAD'])}"),
        ("swift", version(["swift", "--version"])),
        ("mariadb", version(["mariadbd", "--version"])),
        ("tini", version(["tini-static", "--version"])),
        ("dumb-init", version(["dumb-init", "--version"])),
        ("docker", version(["/usr/bin/docker", "version", "--format", "{{.Server.Version}}"])),
    ]


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def render(section, measured):
    verdict = "met" if section["met"] else "**missed**"
    parts = [f"## {section['title']}", "", f"_Measured {measured}._", "",
             markdown_table(section["header"], section["rows"]), "", f"Goal: {section['goal']} — {verdict}."]
    for note in section.get("notes", []):
        parts += ["", note]
    return "\n".join(parts) + "\n"


def section_key(text):
    """"## 4b. The race …" → (4, "b"): the order sections appear in."""
    number = text[3:].split(".", 1)[0]
    digits = "".join(ch for ch in number if ch.isdigit())
    return (int(digits or 0), number[len(digits):])


def existing_sections(path):
    """The sections of an earlier BENCHMARKS.md, by key (for --only, which re-measures some)."""
    try:
        text = open(path).read()
    except FileNotFoundError:
        return {}
    chunks = ["## " + chunk for chunk in text.split("\n## ")[1:]]
    return {section_key(chunk): chunk.rstrip("\n") + "\n" for chunk in chunks}


def summary(sections):
    """One line per section: its goal and whether it was met, read back from the rendered text."""
    lines = ["| section | goal | |", "|---|---|---|"]
    for key in sorted(sections):
        text = sections[key]
        title = text.split("\n", 1)[0][3:].split(":")[0]
        goal = next((line for line in text.split("\n") if line.startswith("Goal: ")), "Goal: ? — ?.")
        wanted, _, verdict = goal[len("Goal: "):].rpartition(" — ")
        lines.append(f"| {title} | {wanted} | {verdict.rstrip('.')} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs and shorter windows (a smoke run)")
    parser.add_argument("--runs", type=int, help="runs per rate in the races (default 20, quick 5)")
    parser.add_argument("--only", help="comma-separated sections: " + ",".join(SECTIONS))
    parser.add_argument("--output", default=os.path.join(ROOT, "BENCHMARKS.md"))
    parser.add_argument("--baseline", dest="baseline_ref", default="origin/main",
                        help="the git revision false-stops compares against (default: %(default)s)")
    options = parser.parse_args()
    options.runs = options.runs or (5 if options.quick else 20)
    options.log = lambda text: print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)
    chosen = options.only.split(",") if options.only else list(SECTIONS)
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown:
        parser.error(f"unknown section {', '.join(unknown)}; known: {', '.join(SECTIONS)}")

    command = "bench/run" + "".join(f" {arg}" for arg in sys.argv[1:])
    revision = version(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    measured = (datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
                + f" at git {revision} by `{command}`")
    # The sections of an earlier BENCHMARKS.md that this run does not (or not yet) re-measure stay, each
    # with its own date and revision: a run cut short, or one with --only, never drops what was measured.
    sections = existing_sections(options.output)
    facts = "\n".join(f"- {key}: {value}" for key, value in machine())
    for name in chosen:
        options.log(f"{name}: starting")
        result = importlib.import_module(SECTIONS[name]).run(options)
        for section in result if isinstance(result, list) else [result]:
            text = render(section, measured)
            print(text, flush=True)
            sections[section_key("## " + section["title"])] = text
        # Written after every section, so a failure later keeps what was measured.
        document = ("# Benchmarks\n\nMeasured by `bench/run` on this machine, every contender of a section in the "
                    "same run (see bench/README.md).\n\n" + facts + "\n\n" + summary(sections) + "\n"
                    + "\n".join(sections[key] for key in sorted(sections)))
        with open(options.output, "w") as handle:
            handle.write(document)
    options.log(f"wrote {options.output}")


if __name__ == "__main__":
    main()
