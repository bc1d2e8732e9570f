"""What each edit reruns (workflow/reruns.py, read off DVC's own graph): the rule on a graph whose answer is known by
hand, the goals of dvc.yaml's declarations on the real DAG, and docs/pipeline.md's table as dvc.yaml makes it."""

import networkx as nx
import pytest
from helpers import ROOT

from difflab.workflow import reruns as rr


@pytest.fixture(scope="module")
def dag():
    return rr.stage_reads(ROOT)


def test_an_edit_reruns_the_stages_declaring_it_and_all_downstream():
    """A knob is declared by its own key, a section holding it or a key inside it (an edited section), never by a
    key that only starts with the same letters; a file by itself or a folder holding it; downstream follows DVC's
    edges (a stage points to the stages whose outputs it reads)."""
    graph = nx.DiGraph([("b", "a"), ("c", "b")])
    graph.add_node("d")
    reads = {"a": ({"x.y"}, {"src/pkg", "data/in"}), "b": ({"z"}, {"out/a"}), "c": (set(), {"out/b"}),
             "d": ({"x.yy", "w.v"}, {"src/pkg2/m.py"})}
    assert rr.reruns(graph, reads, knob="x.y") == {"a", "b", "c"}
    assert rr.reruns(graph, reads, knob="x.y.k") == {"a", "b", "c"}  # a knob inside a declared section
    assert rr.reruns(graph, reads, knob="x") == {"a", "b", "c", "d"}  # the section holding declared keys
    assert rr.reruns(graph, reads, knob="x.yy") == {"d"}  # not x.y's
    assert rr.reruns(graph, reads, knob="z") == {"b", "c"}
    assert rr.reruns(graph, reads, knob="w") == {"d"} and rr.reruns(graph, reads, knob="q") == frozenset()
    assert rr.reruns(graph, reads, path="src/pkg/m.py") == {"a", "b", "c"}
    assert rr.reruns(graph, reads, path="src/pkg2/m.py") == {"d"}  # not src/pkg's
    assert rr.reruns(graph, reads, path="src/pkg2/other.py") == frozenset()


def test_the_dag_reruns_what_an_edit_touches(dag):
    """The issue's edits, by name: a part A knob reruns the experiments that read it (and the evaluation where it
    measures with it), a caption the report alone, a figure helper no training, the tools no stage run nothing."""
    graph, reads = dag

    def of(**edit):
        return set(rr.reruns(graph, reads, **edit))
    assert of(knob="parta.mnist.sdedit.i_start") == {"parta@sdedit", "parta@sdedit_drawings", "parta@translate",
                                                      "eval_parta", "summary", "report"}
    assert of(knob="parta.mnist_flow.iterative.t_start") == {"parta_flow@iterative", "report"}
    assert of(knob="parta.mnist.sample.num_inference_steps") == {"parta@sample", "report"}
    assert of(knob="parta.mnist.blur.sigma") == {"parta@blur", "parta@iterative", "report"}
    assert of(knob="ddpm_class.guidance_scale") == {"sample_ddpm_class", "compare_objectives", "compare_samplers",
                                                    "summary", "report"}
    assert of(path="src/difflab/reporting/parta_captions.py") == {"report"}
    for tool in ("reporting/compare.py", "reporting/compare_page.py", "explore/app.py", "workflow/run.py",
                 "workflow/reruns.py"):
        assert of(path=f"src/difflab/{tool}") == set(), tool
    drawn = of(path="src/difflab/reporting/figures.py")
    assert not {s for s in drawn if s.startswith("train_")} and "parta@anagram" in drawn
    assert of(path="src/difflab/parta/deepfloyd.py") >= {"embed_prompts", "parta@sample"}
    assert "parta_flow@sample" not in of(knob="parta.mnist.common.guidance_scale")


def test_the_docs_table_is_what_dvc_yaml_reruns():
    """docs/pipeline.md's table, row by row, as `python -m difflab.workflow.reruns` makes it from dvc.yaml."""
    made, documented = set(rr.table(ROOT).splitlines()), set(rr.documented(ROOT / rr.DOC).splitlines())
    assert not documented - made and not made - documented, (
        f"docs/pipeline.md's table differs from dvc.yaml's (run python -m difflab.workflow.reruns and paste it): "
        f"only in the docs {sorted(documented - made)}; only in dvc.yaml {sorted(made - documented)}")
