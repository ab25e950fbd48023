"""Shell tools as tasks: script() stages files in and out, and caches by their state.

    redun run script_pipeline.py main

Each text under data/ gets a word-frequency table (results/*.freq), made by a
shell pipeline in a temporary directory; merge() combines them. Edit one
file under data/ and run again: only its table is made again (then the
merge). Delete a file under results/ and run again: only it is made again.
The same code works with s3:// paths: File("s3://bucket/in.txt").stage(...).
"""

from redun import Dir, File, script, task

redun_namespace = "examples.scripts"


@task
def word_freq(text: File, out_dir: str = "results") -> File:
    name = text.basename().rsplit(".", 1)[0] + ".freq"
    return script(
        r"""
        tr -cs 'A-Za-z' '\n' < input.txt | tr 'A-Z' 'a-z' | sort | uniq -c | sort -rn > freq.txt
        echo "$(wc -l < freq.txt) distinct words" >&2
        """,
        inputs=[text.stage("input.txt")],
        outputs=File(f"{out_dir}/{name}").stage("freq.txt"),
        tempdir=True,
    )


@task
def merge(tables: list, output: str = "results/top.txt") -> File:
    paths = " ".join(table.shell_quote() for table in tables)
    return script(
        f"cat {paths} | sort -rn | head -n 5 > {File(output).shell_quote()}",
        inputs=tables,
        outputs=File(output),
    )


@task
def main(input_dir: Dir = Dir("data")) -> File:
    return merge([word_freq(text) for text in input_dir.glob("*.txt")])
