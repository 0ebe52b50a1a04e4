"""nbdev's docs processing (what nbdev_docs does before Quarto) on every notebook; fails if any notebook fails.

nbdev runs each notebook's export cells and every cell that imports something, to build the signature tables.
A cell that mixes an import with code needing the notebook's earlier state fails there and breaks the site.
"""
import sys
import warnings

warnings.filterwarnings("ignore", message="Found cells containing imports")

if __name__ == "__main__":
    from nbdev.serve import proc_nbs
    try:
        proc_nbs("nbs", n_workers=1, force=True)
    except Exception as e:  # nbdev names the notebook and the cell
        print(f"docs processing failed: {str(e)[:600]}")
        sys.exit(1)
    print("docs processing: every notebook processed")
