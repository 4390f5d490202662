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
        "drol data generate {wildcards.dataset} --episodes {params.episodes}"
        " --seed {params.seed} --out {params.out} --jobs {threads} > {log} 2>&1"


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
    shell:
        "drol data fetch {wildcards.dataset} --out {params.out} > {log} 2>&1 || {{"
        " echo 'dataset {wildcards.dataset} is user-supplied and could not be fetched:"
        " run `drol data fetch {wildcards.dataset} --out {params.out}` on a machine with"
        " network, or copy {wildcards.dataset}.npz and {wildcards.dataset}-val.npz into"
        " {params.out}/ (see README, Data offline)' | tee -a {log} >&2; exit 1; }}"
