# Table 4 (per task) and Table 1 (per family): paper's reported columns next to ours.


rule tables:
    input:
        runs=table_inputs,
        manifest=f"{RESULTS}/tables/manifest.csv",
        reported=config["tables"]["reported"],
        reported_table1=config["tables"]["reported_table1"],
    output:
        report(
            f"{RESULTS}/tables/table1.html",
            caption="../report/table1.rst",
            category="Tables",
            labels={"table": "Table 1"},
        ),
        report(
            f"{RESULTS}/tables/table4.html",
            caption="../report/table4.rst",
            category="Tables",
            labels={"table": "Table 4"},
        ),
        report(
            f"{RESULTS}/tables/missing_runs.csv",
            caption="../report/missing_runs.rst",
            category="Tables",
            labels={"table": "missing or failed runs"},
        ),
        expand(
            f"{RESULTS}/tables/{{name}}.{{ext}}",
            name=["table1", "table4"],
            ext=["csv", "tex", "md"],
        ),
    log:
        f"{LOGS}/tables/tables.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        runs=RUNS,
        out=lambda wc, output: os.path.dirname(output[0]),
        paper_seeds=config["tables"]["paper_seeds"],
    shell:
        "drol tables --runs {params.runs:q} --reported {input.reported:q}"
        " --reported-table1 {input.reported_table1:q} --paper-seeds {params.paper_seeds:q}"
        " --manifest {input.manifest:q} --out {params.out:q} > {log:q} 2>&1"


rule aggregate_stats:
    # rliable's IQM / mean / median / optimality gap and probabilities of improvement
    input:
        runs=table_inputs,
        manifest=f"{RESULTS}/tables/manifest.csv",
    output:
        report(
            f"{RESULTS}/tables/aggregate.html",
            caption="../report/aggregate.rst",
            category="Tables",
            labels={"table": "aggregate statistics"},
        ),
        expand(f"{RESULTS}/tables/aggregate.{{ext}}", ext=["csv", "tex", "md"]),
    log:
        f"{LOGS}/tables/aggregate_stats.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        runs=RUNS,
        out=lambda wc, output: os.path.dirname(output[0]),
        reps=config["tables"]["bootstrap_reps"],
    shell:
        "drol stats --runs {params.runs:q} --manifest {input.manifest:q}"
        " --reps {params.reps:q} --out {params.out:q} > {log:q} 2>&1"
