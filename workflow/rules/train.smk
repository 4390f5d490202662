# One offline training run = one job; `drol train` writes the run directory
# (docs/run_format.md) and score.json last, so score.json marks a finished run.
# DROL(16) and DROL* share the run directory when K* = 16: it is trained once.


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
    conda:
        "../../envs/train.yaml"
    threads: TRAIN["threads"]
    resources:
        **train_resources(),
    params:
        run_dir=lambda wc: run_dir(wc.task, wc.method, wc.K, wc.seed),
        steps=train_steps,
        eval_every=TRAIN["eval_every"],
        eval_episodes=eval_episodes,
        device=TRAIN["device"],
        data_dir=DATA,
        sets=set_args,
        d4rl_python=config["d4rl"]["python"],
    shell:
        # every value is quoted (:q): a config or path never reaches the shell as code
        "echo SLURM_JOB_ID=${{SLURM_JOB_ID:-local}} > {log:q};"
        " DROL_D4RL_VENV_PYTHON={params.d4rl_python:q}"
        " drol train --task {wildcards.task:q} --method {wildcards.method:q}"
        " --K {wildcards.K:q} --seed {wildcards.seed:q} --steps {params.steps:q}"
        " --eval-every {params.eval_every:q} --eval-episodes {params.eval_episodes:q}"
        " --data-dir {params.data_dir:q} --device {params.device:q} --threads {threads:q}"
        " {params.sets:q} --out {params.run_dir:q} >> {log:q} 2>&1"


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
        conda:
            "../../envs/train.yaml"
        threads: TRAIN["threads"]
        resources:
            **({"gpu": TRAIN["gpu"]} if TRAIN["gpu"] > 0 else {}),
            runtime=lambda wc, n=len(group): n * train_runtime(wc),
            mem_mb=TRAIN["mem_mb"],
        params:
            seeds=",".join(str(s) for s in group),
            run_dirs=seed_run_dirs,
            steps=train_steps,
            eval_every=TRAIN["eval_every"],
            eval_episodes=eval_episodes,
            device=TRAIN["device"],
            data_dir=DATA,
            sets=set_args,
            d4rl_python=config["d4rl"]["python"],
        shell:
            "echo SLURM_JOB_ID=${{SLURM_JOB_ID:-local}} > {log:q};"
            " DROL_D4RL_VENV_PYTHON={params.d4rl_python:q}"
            " drol train --task {wildcards.task:q} --method {wildcards.method:q}"
            " --K {wildcards.K:q} --seeds {params.seeds:q} --steps {params.steps:q}"
            " --eval-every {params.eval_every:q} --eval-episodes {params.eval_episodes:q}"
            " --data-dir {params.data_dir:q} --device {params.device:q} --threads {threads:q}"
            " {params.sets:q} --out {params.run_dirs:q} >> {log:q} 2>&1"

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
