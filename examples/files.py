"""A small file pipeline: count words per file, then write a report.

    redun run files.py main --input-dir data --output report.txt

Edit one file under data/ and run again: only that file is counted again.
"""

import os

from redun import File, task

redun_namespace = "examples.files"

STOPWORDS = {"the", "a", "an", "and", "of", "to", "in"}


def tokenize(text: str) -> list[str]:
    return [word.strip(".,;:!?").lower() for word in text.split()]


@task
def count_words(path: File) -> dict:
    words = [w for w in tokenize(path.read()) if w and w not in STOPWORDS]
    counts: dict = {}
    for word in words:
        counts[word] = counts.get(word, 0) + 1
    return counts


@task
def write_report(counts_per_file: dict, output: str) -> File:
    report = File(output)
    lines = []
    for name, counts in sorted(counts_per_file.items()):
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        lines.append(f"{name}: " + ", ".join(f"{w}={n}" for w, n in top))
    report.write("\n".join(lines) + "\n")
    return report


@task
def main(input_dir: str = "data", output: str = "report.txt") -> File:
    names = sorted(n for n in os.listdir(input_dir) if n.endswith(".txt"))
    counts = {name: count_words(File(os.path.join(input_dir, name))) for name in names}
    return write_report(counts, output)
