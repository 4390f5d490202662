# One offline training run = one job; `drol train` writes the run directory
# (docs/run_format.md) and score.json last, so score.json marks a finished run.
# DROL(16) and DROL* share the run directory when K* = 16: it is trained once.
# Every training rule asks for the same GPU, CPUs (= threads) and memory and a runtime from
# the measured estimate (common.smk, train_resources; drol.report.jobs): a job longer than
# the cap asks for the cap and resumes from its checkpoint on its retries (train_retries).


rule train:
    input:
        dataset_files,
    output:
        ensure(
            f"{RUNS}/{{task}}/{{method}}/K{{K}}/seed{{seed}}/score.json",
            non_empty=True,
        ),
    log:
        f"{LOGS}/train/{{task}}/{{method}}/K{{K}}/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/train/{{task}}/{{method}}/K{{K}}/seed{{seed}}.tsv"
    retries: train_retries("train")
    conda:
        "../../envs/train.yaml"
    threads: TRAIN_CPUS
    resources:
        **train_resources("train"),
    params:
        **TRAIN_PARAMS,
        run_dir=lambda wc: run_dir(wc.task, wc.method, wc.K, wc.seed),
    shell:
        TRAIN_SHELL.format(
            seed_args="--seed {wildcards.seed:q}", out="{params.run_dir:q}"
        )


# train.seeds_per_job > 1: the seeds of one group, one job, one seed-batched step
# (`drol train --seeds`); each seed still writes its own run directory and score.json.
# A seed that diverges fails the job: Snakemake then removes the group's score.json files,
# and the next call rewrites the finished seeds' from their final checkpoints (no training).
for i, group in enumerate(SEED_GROUPS):

    rule:
        name:
            f"train_seeds{i}"
        input:
            dataset_files,
        output:
            [
                ensure(
                    f"{RUNS}/{{task}}/{{method}}/K{{K}}/seed{seed}/score.json",
                    non_empty=True,
                )
                for seed in group
            ],
        log:
            f"{LOGS}/train/{{task}}/{{method}}/K{{K}}/{seeds_label(group)}.log",
        benchmark:
            f"{BENCHMARKS}/train/{{task}}/{{method}}/K{{K}}/{seeds_label(group)}.tsv"
        wildcard_constraints:
            method=_alternatives(SEED_BATCHABLE),
        retries: train_retries(f"train_seeds{i}")
        conda:
            "../../envs/train.yaml"
        threads: TRAIN_CPUS
        resources:
            **train_resources(f"train_seeds{i}"),
        params:
            **TRAIN_PARAMS,
            seeds=",".join(str(s) for s in group),
            run_dirs=seed_run_dirs,
        shell:
            TRAIN_SHELL.format(
                seed_args="--seeds {params.seeds:q}", out="{params.run_dirs:q}"
            )

    workflow.ruleorder(f"train_seeds{i}", "train")


checkpoint select_k:
    # DROL* with k_selection: sweep -- K* of a family = the best K of its (*) task's sweep.
    input:
        lambda wc: [f"{d}/score.json" for d in sweep_dirs_of(wc.task)],
    output:
        f"{RESULTS}/kstar/{{task}}.json",
    log:
        f"{LOGS}/select_k/{{task}}.log",
    localrule: True
    conda:
        "../../envs/report.yaml"
    params:
        dirs=lambda wc: sweep_dirs_of(wc.task),
        default_k=DEFAULT_K,
    shell:
        "drol select-k {params.dirs:q} --default-k {params.default_k:q} --out {output:q}"
        " > {log:q} 2>&1"
