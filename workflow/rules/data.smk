# Datasets: regenerated locally (config data.generate) or user-supplied (official files).


rule generate_data:
    output:
        f"{DATA}/{{dataset}}.npz",
        f"{DATA}/{{dataset}}-val.npz",
    log:
        f"{LOGS}/data/generate_{{dataset}}.log",
    benchmark:
        f"{BENCHMARKS}/data/generate_{{dataset}}.tsv"
    wildcard_constraints:
        dataset=_alternatives(GENERATED),
    conda:
        "../../envs/data.yaml"
    threads: config["data"]["jobs"]
    resources:
        runtime=240,
        mem_mb=4000,
    params:
        episodes=lambda wc: GENERATED[wc.dataset]["episodes"],
        seed=lambda wc: GENERATED[wc.dataset]["seed"],
        out=lambda wc, output: os.path.dirname(output[0]),
    shell:
        "drol data generate {wildcards.dataset:q} --episodes {params.episodes:q}"
        " --seed {params.seed:q} --out {params.out:q} --jobs {threads:q} > {log:q} 2>&1"


rule fetch_data:
    # User-supplied datasets (locomotion always; all of them in the paper grid): downloads the
    # official files where there is network, else fails saying what to put where.
    output:
        f"{DATA}/{{dataset}}.npz",
        f"{DATA}/{{dataset}}-val.npz",
    log:
        f"{LOGS}/data/fetch_{{dataset}}.log",
    wildcard_constraints:
        dataset=_alternatives(USER_DATASETS),
    localrule: True
    conda:
        "../../envs/data.yaml"
    params:
        out=lambda wc, output: os.path.dirname(output[0]),
        hint=lambda wc, output: (
            f"dataset {wc.dataset} is user-supplied and could not be fetched: run"
            f" `drol data fetch {wc.dataset} --out {os.path.dirname(output[0])}` on a machine"
            f" with network, or copy {wc.dataset}.npz and {wc.dataset}-val.npz into"
            f" {os.path.dirname(output[0])}/ (see README, Data offline)"
        ),
    shell:
        "drol data fetch {wildcards.dataset:q} --out {params.out:q} > {log:q} 2>&1 || {{"
        " echo {params.hint:q} | tee -a {log:q} >&2; exit 1; }}"


rule rollout_d4rl:
    # Test data only (config d4rl.rollout): random actions in the real d4rl env, D4RL layout.
    output:
        f"{DATA}/d4rl/{{d4rl_file}}",
    log:
        f"{LOGS}/data/rollout_{{d4rl_file}}.log",
    wildcard_constraints:
        d4rl_file=_alternatives(ROLLOUT_FILES),
    conda:
        "../../envs/train.yaml"
    resources:
        runtime=30,
        mem_mb=2000,
    params:
        task=lambda wc: D4RL_FILES[wc.d4rl_file],
        episodes=lambda wc: ROLLOUT[D4RL_FILES[wc.d4rl_file]]["episodes"],
        seed=lambda wc: ROLLOUT[D4RL_FILES[wc.d4rl_file]]["seed"],
        python=config["d4rl"]["python"],
        out=lambda wc, output: os.path.dirname(output[0]),
    shell:
        "DROL_D4RL_VENV_PYTHON={params.python:q} drol data rollout {params.task:q}"
        " --episodes {params.episodes:q} --seed {params.seed:q} --out {params.out:q}"
        " > {log:q} 2>&1"


rule fetch_d4rl:
    # The official D4RL hdf5: downloaded where there is network, else fails saying where to put it.
    output:
        f"{DATA}/d4rl/{{d4rl_file}}",
    log:
        f"{LOGS}/data/fetch_{{d4rl_file}}.log",
    wildcard_constraints:
        d4rl_file=_alternatives(FETCH_FILES),
    localrule: True
    conda:
        "../../envs/data.yaml"
    params:
        task=lambda wc: D4RL_FILES[wc.d4rl_file],
        out=lambda wc, output: os.path.dirname(output[0]),
    shell:
        "drol data fetch {params.task:q} --out {params.out:q} > {log:q} 2>&1 || {{"
        " tail -n 1 {log:q} >&2; exit 1; }}"
