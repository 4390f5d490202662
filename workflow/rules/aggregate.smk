# The grid's manifest (which run fills which table column) and the tidy CSV of all runs.


rule manifest:
    input:
        kstar_files,
    output:
        f"{RESULTS}/tables/manifest.csv",
    log:
        f"{LOGS}/aggregate/manifest.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        # a plain string Snakemake can compare: the manifest is rebuilt when the grid changes
        # (a function: the repr holds braces, which Snakemake would read as wildcards)
        grid=lambda wc: repr(GRID),
        rows=lambda wc, input: manifest_rows(),
    script:
        "../scripts/write_manifest.py"


rule aggregate:
    input:
        runs=report_inputs,
        manifest=f"{RESULTS}/tables/manifest.csv",
    output:
        runs=f"{RESULTS}/tables/runs.csv",
        summary=f"{RESULTS}/tables/task_summary.csv",
    log:
        f"{LOGS}/aggregate/aggregate.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        runs=RUNS,
    shell:
        "drol aggregate --runs {params.runs:q} --manifest {input.manifest:q}"
        " --out {output.runs:q} --summary {output.summary:q} > {log:q} 2>&1"
