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
