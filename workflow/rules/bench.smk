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
        "drol bench --method {wildcards.method:q} --K {wildcards.K:q}"
        " --obs-dim {params.b[obs_dim]:q} --action-dim {params.b[action_dim]:q}"
        " --device {params.b[device]:q} --repeats {params.b[repeats]:q}"
        " --steps {params.b[steps]:q} --hidden {params.b[hidden]:q}"
        " --batch-size {params.b[batch_size]:q} --threads {threads:q}"
        " --set compile={params.b[compile]:q} --json"
        " > {output:q} 2> {log:q}"
