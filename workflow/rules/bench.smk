# Step-time micro-benchmark for Fig. 3 (bottom): one `drol bench --json` per (method, K).


rule bench:
    output:
        f"{RESULTS}/bench/{{method}}_K{{K}}.json",
    log:
        f"{LOGS}/bench/{{method}}_K{{K}}.log",
    benchmark:
        f"{BENCHMARKS}/bench/{{method}}_K{{K}}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: config["bench"]["threads"]
    resources:
        runtime=60,
        mem_mb=4000,
    params:
        b=config["bench"],
    shell:
        "drol bench --method {wildcards.method} --K {wildcards.K}"
        " --obs-dim {params.b[obs_dim]} --action-dim {params.b[action_dim]}"
        " --device {params.b[device]} --repeats {params.b[repeats]}"
        " --steps {params.b[steps]} --hidden {params.b[hidden]}"
        " --batch-size {params.b[batch_size]} --threads {threads} --json"
        " > {output} 2> {log}"
