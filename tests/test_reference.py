"""kit.reference: the paper's published numbers in the results vocabulary, checked against its headline facts."""

import pytest

from kit.errors import DataError
from kit.reference import DEFAULT_DIR, paper_dataset, paper_results
from kit.results import COLUMNS, METRICS


@pytest.fixture(scope="module")
def paper():
    return paper_results()


def test_rows_in_the_vocabulary(paper):
    assert list(paper.columns) == list(COLUMNS) and set(paper.metric) <= set(METRICS)
    assert set(paper.role) == {"trained", "untrained", "random"} and set(paper.dataset) == {"CUB", "COCO"}


def test_headline_facts_of_the_readme(paper):
    """The reference README's headline: CUB TAPAScore 0.455 (FBMP β=0.5) vs 0.341 (one-to-one), peak 0.555 at 256."""
    grid = paper[(paper.dataset == "CUB") & (paper.metric == "tapascore") & (paper.family != "mean")]
    assert grid[grid.criterion == "fbmp_b0.5"].value.mean() == pytest.approx(0.455, abs=5e-4)
    assert grid[grid.criterion == "one_to_one"].value.mean() == pytest.approx(0.341, abs=5e-4)
    by_size = grid[grid.criterion == "fbmp_b0.5"].groupby("dict_size").value.mean()
    assert by_size.idxmax() == 256 and by_size.max() == pytest.approx(0.555, abs=5e-4)
    sanity = paper[(paper.family == "mean") & (paper.metric == "tapascore") & (paper.dataset == "CUB")]
    assert sanity.set_index("role").value.to_dict() == pytest.approx(
        {"trained": 0.4554, "untrained": -0.0236, "random": 0.0051})


def test_dataset_names_and_bad_files(tmp_path):
    assert paper_dataset("toy-syncub") == "CUB" and paper_dataset("syncoco") == "COCO"
    assert paper_dataset("/data/CUB_200_2011") == "CUB" and paper_dataset("mine") is None
    for name in ("paper_clip_results.csv", "paper_sanity_check.csv"):
        (tmp_path / name).write_bytes((DEFAULT_DIR / name).read_bytes())
    path = tmp_path / "paper_clip_results.csv"
    path.write_text(path.read_text().replace(",128,0.031", ",128,zero", 1))
    with pytest.raises(DataError, match=r"paper_clip_results.csv, line 2: value"):
        paper_results(tmp_path)
