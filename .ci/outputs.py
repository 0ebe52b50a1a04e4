"""Check the recorded outputs of the lessons (nbs/NN_*.ipynb), as committed.

Every lesson must carry the outputs of one recorded real-data run (tools/run_lessons.py --record): its
provenance note, at least one picture, no errors, no machine paths, no smoke-profile marks, no TensorFlow log
lines or progress-bar fragments, within the size limits. A code cell whose source changed after the recording
is named, and fails the check: its outputs no longer show what its code does. Record the lesson again.
"""
import base64
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from run_lessons import CELLS_MARK, NOTE_MARK, _TF_LOG, cell_hash  # noqa: E402  one definition of each

MAX_TOTAL_BYTES = 10_000_000
MAX_IMAGE_BYTES = 400_000
LIBRARY_WARNING = re.compile(r"^WARNING:tensorflow:.*|^.*site-packages/\S+:\d+: \w*Warning: .*", re.MULTILINE)
MACHINE_PATH = re.compile(r"(?<![\w.~…])/(?:(?:work|workspace|root|home|Users|opt|usr|var|mnt|media|srv|data|scratch|gpfs|kaggle"
                          r"|content|private)\b|tmp/(?!…)\w)[^\s'\"()]*")
SMOKE_MARK = "profile='smoke'"  # CourseConfig's repr under nbdev_test
PROGRESS_BAR = re.compile(r"\d+/\d+ ━|\r|\x08")  # Keras' bars; model.summary() tables use ━ too, without the count


def texts(output) -> list:
    if output.get("output_type") == "stream":
        return ["".join(output.get("text", ""))]
    data = output.get("data", {})
    return ["".join(data[k]) for k in ("text/plain", "text/markdown", "text/html") if k in data]


def check(path: Path) -> tuple:
    "Problems (failures) of one lesson notebook, and a one-line summary."
    nb = json.loads(path.read_text(encoding="utf-8"))
    problems = []
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    notes = [c for c in nb["cells"] if c["cell_type"] == "markdown" and "".join(c["source"]).startswith(NOTE_MARK)]
    if len(notes) != 1:
        problems.append(f"{len(notes)} provenance notes (expected one, written by tools/run_lessons.py --record)")
    else:
        found = re.search(re.escape(CELLS_MARK) + r" ([0-9a-f ]*) -->", "".join(notes[0]["source"]))
        recorded = found.group(1).split() if found else []
        current = [cell_hash("".join(c["source"])) for c in code]
        if recorded != current:
            stale = [c for c in code if cell_hash("".join(c["source"])) not in set(recorded)]
            names = "; ".join(repr(next((l for l in "".join(c["source"]).splitlines() if l.strip() and not l.startswith("#|")), "")[:70])
                              for c in stale) or "cells were added, removed or reordered"
            problems.append(f"code changed after its outputs were recorded: {names}")
    images = 0
    for c in code:
        first = next((l for l in "".join(c["source"]).splitlines() if l.strip() and not l.startswith("#|")), "")[:50]
        for out in c.get("outputs", []):
            if out.get("output_type") == "error":
                problems.append(f"an error output in the cell {first!r}")
            for kind in ("image/png", "image/jpeg", "image/svg+xml"):
                image = out.get("data", {}).get(kind)
                if image:
                    images += 1
                    image = "".join(image)
                    size = len(image.encode()) if kind.endswith("xml") else len(base64.b64decode(image))
                    if size > MAX_IMAGE_BYTES:
                        problems.append(f"an image of {size:,} bytes (over {MAX_IMAGE_BYTES:,}) in the cell {first!r}")
            for text in texts(out):
                if SMOKE_MARK in text:
                    problems.append(f"the smoke profile's mark {SMOKE_MARK} in the cell {first!r}")
                hit = MACHINE_PATH.search(text)
                if hit:
                    problems.append(f"a machine path {hit.group(0)!r} in the cell {first!r}")
                if any(_TF_LOG.match(line) for line in text.splitlines()):
                    problems.append(f"a TensorFlow log line in the cell {first!r}")
                hit = LIBRARY_WARNING.search(text)
                if hit:  # the course's own warnings name a file and a fix; a library's internals do not
                    problems.append(f"a library warning ({hit.group(0)[:80]!r}) in the cell {first!r}")
                if out.get("output_type") == "stream" and PROGRESS_BAR.search(text):
                    problems.append(f"progress-bar fragments in the cell {first!r}")
    if images == 0:
        problems.append("no picture among the outputs")
    return problems, f"{path.name}: {images} pictures, {path.stat().st_size / 1e6:.2f} MB"


def main() -> int:
    lessons = sorted((ROOT / "nbs").glob("[0-9][0-9]_*.ipynb"))
    failed = False
    for path in lessons:
        problems, summary = check(path)
        print(summary + ("" if problems else ", recorded outputs OK"))
        for p in problems:
            print(f"  FAILED: {p}")
        failed |= bool(problems)
    total = sum(p.stat().st_size for p in (ROOT / "nbs").glob("*.ipynb"))
    print(f"all notebooks: {total / 1e6:.2f} MB (limit {MAX_TOTAL_BYTES / 1e6:.0f} MB)")
    if total > MAX_TOTAL_BYTES:
        print("  FAILED: the notebooks are too large together")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
