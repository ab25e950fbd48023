"""Support code for the side-by-side benchmark (``bench/run.py``).

- ``workloads``: which workflow files exist, their default sizes, how many
  jobs they run and what result they must print.
- ``venvs``: where "ours" and the reference redun live; creates the reference
  virtual environment on first use.
- ``runner``: runs one ``redun run`` subprocess and classifies the outcome.
- ``report``: the results table and the JSON dump.

This package never imports ``redun``: the harness must keep working while the
implementation under test is broken.
"""
