# Step-time micro-benchmark for Fig. 3 (bottom): every (method, K) of bench.methods/bench.Ks,
# one after another in one `drol bench --pairs` process (one start-up instead of one per pair,
# and every number from the same machine), each written to bench/METHOD_KK.json.
# The job owns the machine, so the figure shows the cost of a step, not the load of the
# training jobs beside it: locally it takes every core (Snakemake then runs nothing else
# meanwhile) and times with bench.threads of them; on SLURM its node is its own (--exclusive),
# with one GPU when bench.device is cuda (common.smk, bench_resources).
# Each JSON records the load it saw anyway (other_busy_cpus, load_1min_before/after).


rule bench:
    output:
        bench_files(),
    log:
        f"{LOGS}/bench/bench.log",
    benchmark:
        f"{BENCHMARKS}/bench/bench.tsv"
    conda:
        "../../envs/train.yaml"
    threads: bench_threads
    resources:
        **bench_resources(),
    params:
        b=config["bench"],
        pairs=",".join(f"{m}:{K}" for m, K in bench_pairs()),
        out_dir=lambda wildcards, output: os.path.dirname(output[0]),
    shell:
        "drol bench --pairs {params.pairs:q} --out-dir {params.out_dir:q}"
        " --obs-dim {params.b[obs_dim]:q} --action-dim {params.b[action_dim]:q}"
        " --device {params.b[device]:q} --repeats {params.b[repeats]:q}"
        " --steps {params.b[steps]:q} --hidden {params.b[hidden]:q}"
        " --batch-size {params.b[batch_size]:q} --threads {params.b[threads]:q}"
        " --set compile={params.b[compile]:q} > {log:q} 2>&1"
