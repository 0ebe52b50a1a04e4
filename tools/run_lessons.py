"""Run the lessons the way a learner does: every cell top to bottom, in the `full` profile, on a real data folder.

    python tools/run_lessons.py --data /path/to/101_ObjectCategories \
        --weights /path/to/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5 --backbone mobilenet_v2

runs every lesson (or those named: `00 03`) in a fresh kernel each, `#| slow` cells included, and prints the
wall time, peak memory and outcome of each. The executed copies go to --out; nbs/ is not touched.

    ... --record

does the same and then writes the outputs of every lesson that passed into nbs/, with a note under the title
saying when and where they were recorded. It is the only thing that writes outputs into the notebooks.

    python tools/run_lessons.py --visible-only

runs the lessons in the smoke profile with every cell removed whose source nbdev's docs processing deletes
(`#| hide`, `#| export`, `#| exporti`; `#| exports` stays) or Quarto does not show (`#| echo: false`), and the
`#| slow` ones: what a reader who copies
the rendered page gets. It fails when a visible cell needs a name that only a dropped cell defines. These smoke
runs do not depend on each other and run as many at a time as the machine has cores (`--jobs`).
"""
import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / "nbs"
LESSONS = sorted(p.stem for p in NBS.glob("[0-9][0-9]_*.ipynb"))
NOTE_MARK = "<!-- recorded run: written by tools/run_lessons.py --record; do not edit by hand -->"
CELLS_MARK = "<!-- code cells at recording:"  # short hashes of every code cell's source, to find stale outputs


def cell_hash(source: str) -> str:
    import hashlib
    return hashlib.sha256(source.strip().encode()).hexdigest()[:10]
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# TensorFlow's C++ (absl) log lines: written to the process's stderr before any Python setting can silence them
_TF_LOG = re.compile(r"^(?:[IWEF]\d{4} [\d:.]+\s+\d+ \S+:\d+\] .*|WARNING: All log messages before absl::InitializeLog\(\) is called.*"
                     r"|To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags\."
                     r"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.)$")


def directives(source: str) -> list:
    "The `#|` directives of a cell, as nbdev reads them: `#| hide` and `#|hide` alike (shared with .ci/)."
    return [line[2:].strip() for line in source.splitlines() if re.match(r"#\|", line)]


def _is_hidden(cell) -> bool:
    return cell.cell_type == "code" and any(d.split()[:1] == ["hide"] for d in directives(cell.source))


def _dropped_by_docs(cell) -> bool:
    "nbdev's docs processing deletes the source of `#| export`, `#| exporti` and `#| hide` cells (`#| exports` stays)."
    return cell.cell_type == "code" and any(d.split()[:1] in (["hide"], ["export"], ["exporti"]) for d in directives(cell.source))


def _source_hidden(cell) -> bool:
    "Quarto shows the outputs of an `#| echo: false` cell but not its source: a reader cannot copy it."
    return cell.cell_type == "code" and any(d.replace(" ", "") == "echo:false" for d in directives(cell.source))


def _is_slow(cell) -> bool:
    return cell.cell_type == "code" and "slow" in directives(cell.source)


def lesson_names(requested) -> list:
    if not requested:
        return LESSONS
    names = []
    for r in requested:
        hits = [n for n in LESSONS if n == r or n.startswith(r + "_") or n.split("_", 1)[0] == r]
        if len(hits) != 1:
            sys.exit(f"run_lessons: no single lesson matches {r!r}; lessons: {', '.join(LESSONS)}")
        names += hits
    return names


def kernel_env(args) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRANSFER_TUTORIAL_") and k != "IN_TEST"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"  # TensorFlow's C++ start-up notes would land in the outputs
    env["PYTHONWARNINGS"] = "ignore::DeprecationWarning"
    if args.visible_only:
        env["IN_TEST"] = "1"
        return env
    env["TRANSFER_TUTORIAL_PROFILE"] = "full"
    # a feature cache of this run's own, shared by its lessons as by a learner's lessons on one machine: the transfer
    # lesson computes the features, later lessons read them; nothing from earlier runs or benchmarks is reused
    env["TRANSFER_TUTORIAL_FEATURE_CACHE"] = str(Path(args.out) / "feature_cache")
    # the course folder of this run: the baseline and transfer lessons keep their models there, the evaluation
    # lesson reads them, as on a learner's machine; emptied with the feature cache
    env["TRANSFER_TUTORIAL_COURSE_DIR"] = str(Path(args.out) / "course")
    if args.data:
        env["TRANSFER_TUTORIAL_DATA"] = str(Path(args.data).expanduser().resolve())
    if args.weights:
        w = args.weights
        env["TRANSFER_TUTORIAL_WEIGHTS"] = w if w.lower() in ("imagenet", "none") else str(Path(w).expanduser().resolve())
    if args.backbone:
        env["TRANSFER_TUTORIAL_BACKBONE"] = args.backbone
    return env


def execute_one(name: str, args) -> dict:
    "Run in a child process: execute one lesson, save the executed copy, report time and the kernel's peak memory."
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(NBS / f"{name}.ipynb", as_version=4)
    if args.visible_only:
        nb.cells = [c for c in nb.cells if not (_dropped_by_docs(c) or _source_hidden(c) or _is_slow(c))]
    env = kernel_env(args)
    os.environ.clear()
    os.environ.update(env)
    client = NotebookClient(nb, timeout=args.cell_timeout, kernel_name="python3", resources={"metadata": {"path": str(NBS)}})
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except CellExecutionError as e:
        error = f"{e.ename}: {e.evalue}"[:500]
    except Exception as e:  # a dead kernel or a timeout
        error = f"{type(e).__name__}: {e}"[:500]
    seconds = time.perf_counter() - start
    out = Path(args.out) / f"{name}.ipynb"
    nbformat.write(nb, out)
    # the kernel was this process's child and has been reaped: its peak is among the children's (Linux: kB)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return dict(lesson=name, ok=error is None, error=error, seconds=round(seconds, 1), peak_rss_mb=round(peak_mb))


def machine() -> dict:
    import tensorflow as tf
    import keras
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")),
               platform.processor() or "unknown CPU")
    gpus = tf.config.list_physical_devices("GPU")
    gpu_names = []
    for g in gpus:
        try:
            gpu_names.append(tf.config.experimental.get_device_details(g).get("device_name", "GPU"))
        except Exception:
            gpu_names.append("GPU")
    return dict(date=datetime.date.today().isoformat(), cpu=cpu, cores=os.cpu_count(),
                gpu=", ".join(gpu_names) or "no GPU", tensorflow=tf.__version__, keras=keras.__version__,
                python=platform.python_version())


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def provenance(args, lesson: dict, info: dict, code_sources: list) -> str:
    env = kernel_env(args)  # the lessons' settings, not whatever this shell exports
    os.environ.clear()
    os.environ.update(env)
    from transfer_tutorial.data import course_config, course_splits
    config = course_config()
    splits = course_splits(config)
    data = config.data_dir.name if config.data_dir else "Caltech-101 download"
    weights = {None: "random", "imagenet": "ImageNet (Keras download)"}.get(config.weights) or f"ImageNet (from the file {Path(config.weights).name})"
    sizes = " / ".join(f"{len(splits[s]):,}" for s in ("train", "val", "test"))
    hashes = " ".join(cell_hash(s) for s in code_sources)
    return (f"{NOTE_MARK}\n{CELLS_MARK} {hashes} -->\n> **Outputs below** come from one run of this notebook, top to bottom, in the `full` profile on "
            f"{info['date']}: {info['cpu']} ({info['cores']} cores), {info['gpu']}; TensorFlow {info['tensorflow']}, "
            f"Keras {info['keras']}. Backbone `{config.backbone}` with {weights} weights; data `{data}`, "
            f"{len(splits['train'].class_names)} classes, {sum(map(len, splits.values())):,} images split {sizes} "
            f"(train / val / test). The whole notebook took {_duration(lesson['seconds'])}. Run in Colab (the same "
            f"backbone, its ImageNet weights downloaded by Keras, a GPU), it prints numbers a little different and takes less time.")


def scrub(text: str, args) -> str:
    "Outputs without the recording machine's paths or terminal colours."
    import sysconfig
    text = _ANSI.sub("", text)
    replacements = {str(ROOT): ".", sysconfig.get_paths()["purelib"]: "site-packages", tempfile.gettempdir(): "/tmp"}
    for given in (args.data, args.weights):
        if given and given.lower() not in ("imagenet", "none"):
            replacements[str(Path(given).expanduser().resolve().parent)] = "…"
    if str(Path.home()) != "/":
        replacements[str(Path.home())] = "~"
    # longest first, so a folder inside another (the repository inside home) keeps its own name
    for old in sorted(replacements, key=len, reverse=True):
        text = re.sub(re.escape(old) + r"(?=/|[\s'\")]|$)", replacements[old], text)
    return re.sub(r"/tmp/tmp[\w-]+", "/tmp/…", text)


def record(name: str, args, lesson: dict, info: dict):
    "Copy the executed outputs into nbs/NAME.ipynb and put the provenance note under its title."
    import nbformat
    executed = nbformat.read(Path(args.out) / f"{name}.ipynb", as_version=4)
    path = NBS / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if not (c.cell_type == "markdown" and c.source.startswith(NOTE_MARK))]
    code = [c for c in nb.cells if c.cell_type == "code"]
    ran = [c for c in executed.cells if c.cell_type == "code"]
    if [c.source for c in code] != [c.source for c in ran]:
        raise RuntimeError(f"{name} changed while it ran; run it again")
    for cell, done in zip(code, ran):
        outputs = []
        for out in done.outputs:
            if out.output_type == "stream":
                out.text = scrub("".join(l for l in out.text.splitlines(keepends=True) if not _TF_LOG.match(l.rstrip("\n"))), args)
                if not out.text.strip():
                    continue
            elif "data" in out:
                for kind in ("text/plain", "text/markdown", "text/html"):
                    if kind in out.data:
                        out.data[kind] = scrub(out.data[kind], args)
            elif out.output_type == "error":
                continue
            outputs.append(out)
        cell.outputs = outputs
    title = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.lstrip().startswith("# ")), -1)
    nb.cells.insert(title + 1, nbformat.v4.new_markdown_cell(provenance(args, lesson, info, [c.source for c in code])))
    nbformat.write(nb, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("lessons", nargs="*", help="lessons to run, e.g. 00 or 03_evaluation (default: all)")
    parser.add_argument("--data", help="images folder, one sub-folder per class (default: the Caltech-101 download)")
    parser.add_argument("--weights", help="imagenet, none or a weights file (default: the profile's)")
    parser.add_argument("--backbone", help="backbone name (default: the profile's)")
    parser.add_argument("--record", action="store_true", help="write the outputs of the lessons that passed into nbs/")
    parser.add_argument("--visible-only", action="store_true", help="smoke profile, without the cells the docs drop (hide, export, exporti) and the slow ones")
    parser.add_argument("--out", help="folder for the executed copies and summary.json (default: runs/lessons)")
    parser.add_argument("--cell-timeout", type=int, default=3600, help="seconds one cell may take")
    parser.add_argument("--keep-feature-cache", action="store_true",
                        help="reuse the features and course folder an earlier run of this command left in --out (default: start with none)")
    parser.add_argument("--jobs", type=int, help="with --visible-only: lessons run at a time (default: the CPU count)")
    parser.add_argument("--execute-one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.record and args.visible_only:
        parser.error("--record takes the full profile; --visible-only is a check")
    # the full profile runs one lesson at a time: its lessons share a course folder, in order, and its times are
    # reported; the smoke lessons of --visible-only are independent of each other and run --jobs at a time
    jobs = max(1, args.jobs or ((os.cpu_count() or 1) if args.visible_only else 1))
    if jobs > 1 and not args.visible_only:
        parser.error("--jobs > 1 only with --visible-only: the full profile's lessons build on each other")
    args.out = str(Path(args.out or ROOT / "runs" / ("visible" if args.visible_only else "lessons")).resolve())
    Path(args.out).mkdir(parents=True, exist_ok=True)
    if args.execute_one:
        print(json.dumps(execute_one(args.execute_one, args)))
        return 0
    names = lesson_names(args.lessons)
    info = machine() if args.record else None
    if not args.keep_feature_cache:
        shutil.rmtree(Path(args.out) / "feature_cache", ignore_errors=True)
        shutil.rmtree(Path(args.out) / "course", ignore_errors=True)
    def run_child(name):
        argv = [sys.executable, __file__, "--execute-one", name, "--out", args.out, "--cell-timeout", str(args.cell_timeout)]
        argv += [f"--{k}={v}" for k, v in (("data", args.data), ("weights", args.weights), ("backbone", args.backbone)) if v]
        argv += ["--visible-only"] if args.visible_only else []
        child = subprocess.run(argv, capture_output=True, text=True)
        try:
            return json.loads(child.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            return dict(lesson=name, ok=False, error=(child.stderr.strip().splitlines() or ["no output"])[-1], seconds=None, peak_rss_mb=None)

    print(f"running {len(names)} lessons, {jobs} at a time" if jobs > 1 else f"running {len(names)} lessons", flush=True)
    results = []
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        for name, result in zip(names, pool.map(run_child, names)):
            results.append(result)
            print(f"{name}: {'passed' if result['ok'] else 'FAILED'} in {result['seconds']} s, peak memory {result['peak_rss_mb']} MB"
                  + ("" if result["ok"] else f"\n    {result['error']}"), flush=True)
            if args.record and result["ok"]:
                try:
                    record(name, args, result, info)
                    print(f"{name}: outputs written to nbs/{name}.ipynb", flush=True)
                except Exception as e:  # one lesson that cannot be recorded does not stop the others
                    result.update(ok=False, error=f"not recorded: {type(e).__name__}: {e}")
                    print(f"{name}: NOT recorded: {result['error']}", flush=True)
    (Path(args.out) / "summary.json").write_text(json.dumps(dict(lessons=results, args={k: v for k, v in vars(args).items() if k != "execute_one"}), indent=1))
    print("\n| lesson | outcome | wall time | peak memory |\n|---|---|---|---|")
    for r in results:
        print(f"| {r['lesson']} | {'passed' if r['ok'] else 'failed'} | {r['seconds']} s | {r['peak_rss_mb']} MB |")
    failed = sum(not r["ok"] for r in results)
    print(f"lessons: {len(results) - failed} passed, {failed} failed")
    if args.record and len(results) > failed:
        subprocess.run(["nbdev_clean"], cwd=ROOT, check=False)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
