"""A small file pipeline: count words per file, then write a report.

    redun run files.py main --input-dir data --output report.txt

Edit one file under data/ and run again: only that file is counted again.
Delete report.txt and run again: only the report is written again.
"""

from redun import Dir, File, task

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
def main(input_dir: Dir = Dir("data"), output: str = "report.txt") -> File:
    # A Dir argument is hashed by the files below it: any edit re-runs main,
    # whose count_words calls are cache hits for every file that did not change.
    counts = {file.basename(): count_words(file) for file in input_dir.glob("*.txt")}
    return write_report(counts, output)
