# Step-time micro-benchmark for Fig. 3 (bottom): one `drol bench --json` per (method, K).
# A bench job owns the machine, so the figure shows the cost of a step, not the load of the
# training jobs beside it: locally it takes every core (Snakemake then runs nothing else
# meanwhile) and times with bench.threads of them; on SLURM its node is its own (--exclusive).
# The JSON records the load it saw anyway (other_busy_cpus, load_1min_before/after).


rule bench:
    output:
        f"{RESULTS}/bench/{{method}}_K{{K}}.json",
    log:
        f"{LOGS}/bench/{{method}}_K{{K}}.log",
    benchmark:
        f"{BENCHMARKS}/bench/{{method}}_K{{K}}.tsv"
    conda:
        "../../envs/train.yaml"
    threads: bench_threads
    resources:
        runtime=60,
        mem_mb=4000,
        cpus_per_task=config["bench"]["threads"],
        slurm_extra="--exclusive",
    params:
        b=config["bench"],
    shell:
        "drol bench --method {wildcards.method:q} --K {wildcards.K:q}"
        " --obs-dim {params.b[obs_dim]:q} --action-dim {params.b[action_dim]:q}"
        " --device {params.b[device]:q} --repeats {params.b[repeats]:q}"
        " --steps {params.b[steps]:q} --hidden {params.b[hidden]:q}"
        " --batch-size {params.b[batch_size]:q} --threads {params.b[threads]:q}"
        " --set compile={params.b[compile]:q} --json"
        " > {output:q} 2> {log:q}"
