# Rollout videos (`snakemake videos`): one per (task, column) of the config, from the first seed's
# run, OGBench tasks only (D4RL envs render nothing here). `drol video` replays the run's last
# evaluation episode (same seeds) in the real environment: an MP4 and a GIF per run. The report
# shows them beside Figures 2-4 once they exist (`snakemake videos`, then `snakemake report`).


rule video:
    input:
        lambda wc: score_file(wc.task, wc.method, wc.K, wc.seed),
    output:
        gif=report(
            video_path("{task}", "{method}", "{K}", "{seed}", "gif"),
            caption="../report/video.rst",
            category="Figures",
            labels={"figure": "Rollout: {task}, {method} K={K} (seed {seed}), GIF"},
        ),
        mp4=report(
            video_path("{task}", "{method}", "{K}", "{seed}", "mp4"),
            caption="../report/video.rst",
            category="Figures",
            labels={"figure": "Rollout: {task}, {method} K={K} (seed {seed}), MP4"},
        ),
    log:
        f"{LOGS}/video/{{task}}/{{method}}/K{{K}}/seed{{seed}}.log",
    conda:
        "../../envs/train.yaml"
    threads: 1
    resources:
        runtime=30,
        mem_mb=4000,
    params:
        run_dir=lambda wc: run_dir(wc.task, wc.method, wc.K, wc.seed),
        v=config["videos"],
    shell:
        "drol video {params.run_dir:q} --episodes {params.v[episodes]:q}"
        " --width {params.v[width]:q} --height {params.v[height]:q}"
        " --frame-every {params.v[frame_every]:q} --out {output.mp4:q} > {log:q} 2>&1"
