"""``python -m deepmf.reproduce``: every table and figure of the paper, then the results document.

    python -m deepmf.reproduce data=ml100k seeds=0,1,2                     # the paper's settings
    python -m deepmf.reproduce data=ml100k seeds=0 profile=tiny            # a smoke test: 1 epoch, 3 batches
    python -m deepmf.reproduce data=ml100k,amusic hydra/launcher=joblib hydra.launcher.n_jobs=2
    python -m deepmf.reproduce data=ml100k --dry-run                       # the plan only

Its own options (``key=value``): data (comma-separated datasets), seeds, profile (conf/reproduce/profile/),
only (manifest entries, e.g. only=table3,table5), root (instead of the profile's), out (the document,
default docs/results.md), template, plan_only. Every other argument is a Hydra override passed to each
sweep's ``python train.py -m``, launcher overrides included. Each entry of conf/reproduce/manifest.yaml
runs as one multirun per dataset into ``<profile root>/<data>/<entry>``; a rerun goes into the same
folders. The plan (jobs and estimated time) is printed first, progress across jobs while the sweeps run,
and the document is written from the manifest's folders at the end. The exit status is 1 if a sweep had
a failed job.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from deepmf.errors import DeepMFError
from deepmf.report.collect import find_jobs
from deepmf.reproduce.manifest import Profile, load_manifest, load_profile, select
from deepmf.reproduce.plan import Plan, Sweep, build_plan, duration
from deepmf.reproduce.runner import outcome, run_sweep

log = logging.getLogger("deepmf.reproduce")
#: Overrides the command sets itself for every sweep.
RESERVED = ("hydra.sweep.dir=", "seed=", "experiment=", "-m", "--multirun")


@dataclass
class Options:
    data: list[str] = field(default_factory=lambda: ["ml100k"])
    seeds: str = "0,1,2"
    profile: str = "paper"
    only: list[str] | None = None
    out: Path = Path("docs/results.md")
    template: Path | None = None
    root: Path | None = None
    plan_only: bool = False
    overrides: list[str] = field(default_factory=list)


def parse(argv: list[str]) -> Options:
    """Split the arguments into this command's options and the overrides passed to train.py."""
    options = Options()
    for arg in argv:
        key, sep, value = arg.partition("=")
        if arg in ("--dry-run", "--plan-only"):
            options.plan_only = True
        elif sep and key in ("data", "only"):
            setattr(options, key, [v.strip() for v in value.split(",") if v.strip()])
        elif sep and key in ("seeds", "profile"):
            setattr(options, key, value)
        elif sep and key in ("out", "template", "root"):
            setattr(options, key, Path(value))
        elif sep and key == "plan_only":
            options.plan_only = value.lower() in ("true", "1", "yes")
        elif arg.startswith(RESERVED):
            raise DeepMFError(
                f"{arg}: set by python -m deepmf.reproduce itself (use seeds=, only=, profile=)"
            )
        else:
            options.overrides.append(arg)
    if not options.data:
        raise DeepMFError("data= names no dataset")
    return options


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    try:
        options = parse(argv)
        profile = load_profile(options.profile)
        if options.root:
            profile = replace(profile, root=options.root)
        entries = select(load_manifest(), options.only)
        plan = build_plan(entries, profile, options.data, options.seeds, options.overrides)
    except DeepMFError as exc:
        log.error("%s", exc)
        return 2
    print(f"Plan: profile={profile.name}, seeds {options.seeds}, into {profile.root}/<data>/<sweep>\n")
    print(plan.describe() + "\n", flush=True)
    if options.plan_only:
        return 0
    failed = run_all(plan, profile)
    write_document(plan, options)
    return 1 if failed else 0


def run_all(plan: Plan, profile: Profile) -> bool:
    """Run every sweep one after the other (each may run its jobs in parallel); True if any failed.
    After a tuning sweep, the values it chose are written where the later sweeps read them."""
    done, failed, started = 0, False, time.time()
    for index, sweep in enumerate(plan.sweeps, 1):
        print(f"[{index}/{len(plan.sweeps)}] {sweep.name}: {sweep.jobs} jobs into {sweep.folder}", flush=True)

        def progress(finished: int, before: int = done, sweep: Sweep = sweep) -> None:
            print(
                f"  {sweep.name}: {finished}/{sweep.jobs} jobs; all: {before + finished}/{plan.jobs}",
                flush=True,
            )

        sweep_started = time.time()
        returncode = run_sweep(sweep, progress)
        jobs, line = outcome(sweep, returncode, time.time() - sweep_started)
        if sweep.entry.tune:
            line += "; " + write_tuned_values(sweep, profile)
        done += min(jobs, sweep.jobs)
        failed = failed or returncode != 0
        print(f"  {line}; all sweeps: {done}/{plan.jobs} jobs, {duration(time.time() - started)}", flush=True)
    return failed


def write_tuned_values(sweep: Sweep, profile: Profile) -> str:
    """Write the values a tuning sweep chose where the tuned methods read them; say where (or why not)."""
    from deepmf.report.tuned import write_tuned

    path = profile.tuned_file(sweep.dataset, str(sweep.entry.tune))
    try:
        values = write_tuned(sweep.folder, path)
    except SystemExit as exc:  # no completed trial: nothing to choose
        return f"no tuned values written ({exc})"
    budget = values["tuning"]
    return (
        f"chose {budget['monitor']}={budget['best_value']:.4f} (trial {budget['best_trial']}), wrote {path}"
    )


def write_document(plan: Plan, options: Options) -> None:
    """The results document from the manifest's folders (those that hold runs) via deepmf.report."""
    from deepmf.report.results import write_results

    sources = []
    for sweep in plan.sweeps:
        if sweep.entry.tune:  # tuning trials fill no table; their budget is reported through the tuned runs
            continue
        if sweep.folder.is_dir() and find_jobs(sweep.folder):
            sources.append((sweep.entry.report_name, sweep.folder))
        else:
            log.warning("%s: no runs in %s; its section says so", sweep.name, sweep.folder)
    if not sources:
        log.error("no sweep wrote any run: %s not written", options.out)
        return
    options.out.parent.mkdir(parents=True, exist_ok=True)
    write_results(sources, options.out, options.template)
    print(f"wrote {options.out} from {len(sources)} sweep folders (conf/reproduce/manifest.yaml)")


if __name__ == "__main__":
    sys.exit(main())
