# ---- data layer (drol/data): tiny generated OGBench datasets, shared across test files
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_cube_single(tmp_path_factory):
    """2 train + 1 val cube-single-play episodes, seed 0, one process (~5 s). Returns the train path."""
    from drol.data.generate import generate

    out = tmp_path_factory.mktemp("cube_single")
    return generate(
        "cube-single-play-v0", out, episodes=2, seed=0, jobs=1, progress=False
    ).train_path


@pytest.fixture(scope="session")
def tiny_pointmaze(tmp_path_factory):
    """3 train + 1 val pointmaze-medium-navigate episodes, seed 0 (~1 s). Returns the train path."""
    from drol.data.generate import generate

    out = tmp_path_factory.mktemp("pointmaze")
    return generate(
        "pointmaze-medium-navigate-v0", out, episodes=3, seed=0, jobs=1, progress=False
    ).train_path


# ---- the cuda marker: tests that need a CUDA device are skipped without one
def pytest_collection_modifyitems(config, items):
    cuda_items = [item for item in items if "cuda" in item.keywords]
    if not cuda_items:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (torch.cuda.is_available() is False)")
    for item in cuda_items:
        item.add_marker(skip)
