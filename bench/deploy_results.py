"""Copy the deployment measurements of the recorded 04_deploy lesson into bench/RESULTS.md.

    python bench/deploy_results.py

The numbers are those the recording command (tools/run_lessons.py --record) printed in nbs/04_deploy.ipynb:
the folder-prediction throughput both ways and the export table. Nothing is measured or typed here; the
section says which recording it comes from.
"""
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- deployment: written by bench/deploy_results.py -->"


def cell_output(cells, source_start):
    cell = next(c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).startswith(source_start))
    # printed text, and tables the lesson displays as Markdown
    return "".join("".join(o.get("text", "")) if o.get("output_type") == "stream" else "".join(o.get("data", {}).get("text/markdown", ""))
                   for o in cell.get("outputs", [])).strip()


def main():
    cells = json.loads((ROOT / "nbs" / "04_deploy.ipynb").read_text())["cells"]
    note = next("".join(c["source"]) for c in cells if "recorded run:" in "".join(c["source"]))
    provenance = re.sub(r"^> \*\*Outputs below\*\* come from", "From", note.splitlines()[-1])
    throughput = cell_output(cells, "test_paths = splits")
    exports = cell_output(cells, "comparison = compare_exports")
    summary = cell_output(cells, "by_name = ")
    if not (throughput and exports):
        raise SystemExit("nbs/04_deploy.ipynb has no recorded outputs: record it first (tools/run_lessons.py --record ... 04).")
    section = (f"{MARKER}\n## Deployment (from the recorded lesson 04_deploy)\n\n{provenance}\n\n"
               f"Predicting the test split's images, one `predict` call per image vs `predict_images`:\n\n```\n{throughput}\n```\n\n"
               f"The exports, each run image by image over the test split (median time per image, this CPU):\n\n{exports}\n\n{summary}\n")
    results = ROOT / "bench" / "RESULTS.md"
    text = results.read_text()
    if MARKER in text:  # replace this script's section, keep the others (bench/large_folder.py writes one too)
        head, tail = text.split(MARKER, 1)
        following = tail.find("\n<!-- ", 1)
        text = head.rstrip("\n") + "\n" + (tail[following:] if following >= 0 else "")
    results.write_text(text.rstrip("\n") + "\n\n" + section)
    print(section)


if __name__ == "__main__":
    main()
