"""What the reports of bench/arm/run.sh (report.py, gpu_report.py) share:
reading the runs' output files and writing Markdown tables."""
import re

KiB = 1 << 10
MiB = 1 << 20


def read(path):
    """The file's text, or "" when it cannot be read (a run that did not finish)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def fields(text, prefix):
    """key=value pairs of the first line starting with prefix."""
    for line in text.splitlines():
        if line.startswith(prefix):
            return {k: int(v, 0) for k, v in re.findall(r"(\w+)=(0x[0-9a-fA-F]+|\d+)", line)}
    return None


def table_row(*cells):
    """One row of a Markdown table (an empty cell stays empty)."""
    return "|" + "|".join(f" {c} " if str(c) else " " for c in cells) + "|"


def table_head(*columns):
    """A Markdown table's header and alignment lines: the first column to
    the left, the others (numbers) to the right."""
    return [table_row(*columns), "|---|" + "---:|" * (len(columns) - 1)]
