# The paper's figures (PDF + PNG in figures_dir); one rule per figure, named after it.


rule fig4_ksweep:
    input:
        runs=sweep_scores,
        manifest=f"{RESULTS}/tables/manifest.csv",
    output:
        report(
            f"{FIGS}/fig4_ksweep.png",
            caption="../report/fig4_ksweep.rst",
            category="Figures",
            labels={"figure": "Fig. 4: K sweep"},
        ),
        f"{FIGS}/fig4_ksweep.pdf",
    log:
        f"{LOGS}/figures/fig4_ksweep.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        runs=RUNS,
        prefix=lambda wc, output: output[1].removesuffix(".pdf"),
        default_k=DEFAULT_K,
    shell:
        "drol figures fig4_ksweep --runs {params.runs:q} --manifest {input.manifest:q}"
        " --default-k {params.default_k:q} --out {params.prefix:q} > {log:q} 2>&1"


rule fig3_metrics:
    input:
        runs=sweep_scores,
        manifest=f"{RESULTS}/tables/manifest.csv",
    output:
        report(
            f"{FIGS}/fig3_metrics.png",
            caption="../report/fig3_metrics.rst",
            category="Figures",
            labels={"figure": "Fig. 3 (top): metrics vs K"},
        ),
        f"{FIGS}/fig3_metrics.pdf",
    log:
        f"{LOGS}/figures/fig3_metrics.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        runs=RUNS,
        prefix=lambda wc, output: output[1].removesuffix(".pdf"),
        max_tasks=config["figures"].get("fig3_max_tasks", 3),
    shell:
        "drol figures fig3_metrics --runs {params.runs:q} --manifest {input.manifest:q}"
        " --max-tasks {params.max_tasks:q} --out {params.prefix:q} > {log:q} 2>&1"


rule fig3_runtime:
    input:
        bench_files(),
    output:
        report(
            f"{FIGS}/fig3_runtime.png",
            caption="../report/fig3_runtime.rst",
            category="Figures",
            labels={"figure": "Fig. 3 (bottom): step time"},
        ),
        f"{FIGS}/fig3_runtime.pdf",
    log:
        f"{LOGS}/figures/fig3_runtime.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        prefix=lambda wc, output: output[1].removesuffix(".pdf"),
    shell:
        "drol figures fig3_runtime --bench {input:q} --out {params.prefix:q} > {log:q} 2>&1"


rule fig2_voronoi:
    input:
        fig2_score(),
    output:
        report(
            f"{FIGS}/fig2_voronoi.png",
            caption="../report/fig2_voronoi.rst",
            category="Figures",
            labels={"figure": "Fig. 2: Voronoi cells"},
        ),
        f"{FIGS}/fig2_voronoi.pdf",
    log:
        f"{LOGS}/figures/fig2_voronoi.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        run=lambda wc, input: str(Path(input[0]).parent),
        probe=(
            []
            if config["figures"]["fig2"].get("probe") is None
            else ["--probe", str(config["figures"]["fig2"]["probe"])]
        ),
        prefix=lambda wc, output: output[1].removesuffix(".pdf"),
    shell:
        "drol figures fig2_voronoi --run {params.run:q} {params.probe:q}"
        " --out {params.prefix:q} > {log:q} 2>&1"


rule learning_curves:
    input:
        runs=table_inputs,
        manifest=f"{RESULTS}/tables/manifest.csv",
    output:
        report(
            f"{FIGS}/learning_curves.png",
            caption="../report/learning_curves.rst",
            category="Figures",
            labels={"figure": "learning curves"},
        ),
        f"{FIGS}/learning_curves.pdf",
    log:
        f"{LOGS}/figures/learning_curves.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        runs=RUNS,
        prefix=lambda wc, output: output[1].removesuffix(".pdf"),
    shell:
        "drol figures learning_curves --runs {params.runs:q} --manifest {input.manifest:q}"
        " --out {params.prefix:q} > {log:q} 2>&1"


rule fig_aggregate:
    input:
        runs=table_inputs,
        manifest=f"{RESULTS}/tables/manifest.csv",
        aggregate=f"{RESULTS}/tables/aggregate.csv",
    output:
        report(
            f"{FIGS}/fig_aggregate.png",
            caption="../report/fig_aggregate.rst",
            category="Figures",
            labels={"figure": "aggregate statistics (rliable)"},
        ),
        f"{FIGS}/fig_aggregate.pdf",
    log:
        f"{LOGS}/figures/fig_aggregate.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        runs=RUNS,
        prefix=lambda wc, output: output[1].removesuffix(".pdf"),
        reps=config["tables"]["bootstrap_reps"],
    shell:
        "drol figures fig_aggregate --runs {params.runs:q} --manifest {input.manifest:q}"
        " --aggregate {input.aggregate:q} --reps {params.reps:q} --out {params.prefix:q}"
        " > {log:q} 2>&1"


rule report:
    # `snakemake report` = `snakemake --report` for the same configuration (HTML, self-contained)
    input:
        TABLE_FILES,
        FIGURE_FILES,
    output:
        f"{RESULTS}/report.html",
    log:
        f"{LOGS}/report/report.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        snakefile=workflow.main_snakefile,
        configfiles=[a for f in workflow.configfiles for a in ("--configfile", str(f))],
        # the rollout videos join the report once `snakemake videos` has made them all
        targets=lambda wc: ["all", "videos"] if videos_made() else ["all"],
    shell:
        "snakemake --snakefile {params.snakefile:q} --nolock {params.configfiles:q}"
        " --report {output:q} {params.targets:q} > {log:q} 2>&1"
