"""Write the grid's manifest (label, task, method, K, seed) computed in common.smk."""

import logging

from drol.report.aggregate import write_manifest

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
rows = snakemake.params.rows  # noqa: F821
write_manifest(rows, snakemake.output[0])  # noqa: F821
logging.info("%d manifest rows -> %s", len(rows), snakemake.output[0])  # noqa: F821
