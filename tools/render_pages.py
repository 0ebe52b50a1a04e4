"""Render the lessons as a reader sees them, without Quarto, and take a screenshot of each page.

    python tools/render_pages.py [00 03 ...]

1. nbdev's own processing for the docs (the step before Quarto): `#| hide` cells dropped, show_doc tables
   with each exported function's signature and parameters added, directives removed -> _proc/*.ipynb;
2. HTML with nbconvert -> _proc/html/NAME.html (the stored outputs, nothing re-run);
3. headless Chromium (Debian's `chromium` package) takes a full-width screenshot of each page, cut into
   screens of 1,600 pixels -> _proc/html/NAME-1.png, NAME-2.png, ...

Everything goes to _proc/ (git-ignored). Look at the screenshots: unreadable figures, tables printed as
text, overlong outputs and missing signatures show there.
"""
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WIDTH, SCREEN = 1280, 1600
TALL = 80000  # the window holds the whole page: Chromium cannot grow a screenshot past it


def as_quarto_shows(nb):
    "What Quarto does with nbdev's processed notebook, done by hand: title from the front matter, no `#|` lines, `echo: false` inputs hidden."
    import re
    import nbformat
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "raw" and cell.source.startswith("---"):
            import yaml  # the front matter is YAML: a long description is folded over several lines
            meta = yaml.safe_load(cell.source.strip().strip("-")) or {}
            cells.append(nbformat.v4.new_markdown_cell(f"# {meta.get('title', '')}\n\n> {meta.get('description', '')}"))
            continue
        if cell.cell_type == "code":
            directives = [l for l in cell.source.splitlines() if l.startswith("#|")]
            if any(re.match(r"#\|\s*echo:\s*false", d) for d in directives):
                cell.metadata.setdefault("tags", []).append("remove_input")
            cell.source = "\n".join(l for l in cell.source.splitlines() if not l.startswith("#|")).strip("\n")
            for out in cell.get("outputs", []):
                for kind in ("text/markdown", "text/html"):
                    if kind in out.get("data", {}):
                        out.data[kind] = re.sub(r"\{target=[^}]*\}", "", out.data[kind])
        cells.append(cell)
    nb.cells = cells
    return nb


def main(requested) -> int:
    from nbdev.serve import proc_nbs
    from PIL import Image
    import nbformat
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    cache = proc_nbs(str(ROOT / "nbs"), n_workers=1, force=True)
    pages = sorted(p for p in Path(cache).glob("[0-9][0-9]_*.ipynb") if not requested or any(p.name.startswith(r) for r in requested))
    out = Path(cache) / "html"
    out.mkdir(exist_ok=True)
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    for page in pages:
        config = Config()
        config.TagRemovePreprocessor.remove_input_tags = {"remove_input"}
        config.TagRemovePreprocessor.enabled = True
        exporter = HTMLExporter(config=config, exclude_input_prompt=True, exclude_output_prompt=True)
        html, _ = exporter.from_notebook_node(as_quarto_shows(nbformat.read(page, as_version=4)))
        target = out / f"{page.stem}.html"
        target.write_text(html, encoding="utf-8")
        print(f"{page.stem}: {target.relative_to(ROOT)}")
        if not browser:
            print("  no Chromium found (apt-get install chromium): HTML only")
            continue
        shot = out / f"{page.stem}-full.png"
        # a tall window holds the whole page; Chromium cannot grow the screenshot past the window
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--window-size={WIDTH},{TALL}",
                        f"--screenshot={shot}", target.as_uri()], capture_output=True, timeout=180)
        image = Image.open(shot).convert("RGB")
        # cut off the blank end of the window, then into screens
        rows = [y for y in range(image.height - 1, 0, -25) if image.crop((0, y, WIDTH, y + 1)).getextrema() != ((255, 255),) * 3]
        bottom = (rows[0] + 40) if rows else image.height
        for k, top in enumerate(range(0, bottom, SCREEN), start=1):
            image.crop((0, top, WIDTH, min(top + SCREEN, bottom))).save(out / f"{page.stem}-{k}.png")
        shot.unlink()
        print(f"  {-(-bottom // SCREEN)} screens of {WIDTH} x {SCREEN} px, page height {bottom} px")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
