"""The documentation holds together: README.md and docs/*.md link only to files that exist and, for
`page.md#anchor` links, to a heading that exists on that page; README.md stays short; no file points outside the
clone; docs/spec.md quotes params.yaml's values."""

import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from helpers import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 150

FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
# [text](target) and ![alt](target); the target ends at whitespace (an optional "title" follows) or ')'
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.M)


def strip_code(text: str) -> str:
    """The text outside code blocks and inline code, where a link is a link."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every anchor a page's headings give, duplicates numbered as GitHub numbers them (-1, -2, ...)."""
    seen: dict[str, int] = {}
    result = set()
    for _, title in HEADING.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
        base = slug(title)
        count = seen.get(base, 0)
        result.add(base if count == 0 else f"{base}-{count}")
        seen[base] = count + 1
    return result


def relative_links(page: Path) -> list[str]:
    """The page's links that point inside the repository (not to the web, not mail)."""
    targets = LINK.findall(strip_code(page.read_text(encoding="utf-8")))
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.I)]


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """Each relative link of the page whose file or heading does not exist, with the reason."""
    broken = []
    for target in relative_links(page):
        path_part, _, anchor = target.partition("#")
        file = (page.parent / unquote(path_part)).resolve() if path_part else page
        if not file.exists():
            broken.append(f"{target}: no file {file.relative_to(root) if file.is_relative_to(root) else file}")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading #{anchor} in {file.relative_to(root)}")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    assert broken_links(page) == []


def test_the_pages_link_to_each_other():
    """README reaches every page in docs/, so none is orphaned, and the picture of the quick and paper runs is shown."""
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in relative_links(ROOT / "README.md")}
    assert [p.name for p in PAGES[1:] if p.resolve() not in linked] == []
    assert (ROOT / "docs/images/quick-vs-paper.png").resolve() in linked


def test_readme_is_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail to docs/"


def test_the_checker_sees_a_broken_link(tmp_path):
    """The checks above would fail: a missing file, a missing heading and a missing image are each caught,
    while links in code, to the web and to existing headings are not."""
    (tmp_path / "other.md").write_text("# A heading, with punctuation's marks\n\n## Twice\n\n## Twice\n")
    page = tmp_path / "page.md"
    page.write_text(
        "# Top\n[ok](other.md#a-heading-with-punctuations-marks) [ok](other.md#twice-1) [ok](#top)\n"
        "[web](https://example.org/x.md) `[code](nowhere.md)`\n```\n[fenced](nowhere.md)\n```\n"
        "[gone](missing.md) [no heading](other.md#nope) ![no image](images/none.png) [self](#nowhere)\n"
    )
    broken = broken_links(page, root=tmp_path)
    assert [b.split(":")[0] for b in broken] == ["missing.md", "other.md#nope", "images/none.png", "#nowhere"]


# A path outside the clone: the shared folder beside it, the brief's seed file or the spec's own page, which a user's
# clone does not have (docs/spec.md restates them). The literals are split so that this file does not match itself.
OUTSIDE = re.compile(r"\.\./" + r"shared\b|\bshared/(?:mission|SPEC)|seed\." + r"txt\b|\bSPEC\." + r"md\b")
SCANNED = ["README.md", "params.yaml", "dvc.yaml", "Makefile", "pyproject.toml", "docs/*.md", "profiles/*",
           "src/**/*.py", "stages/*.py", "bench/**/*", "tests/*.py"]


def outside_references(root: Path = ROOT) -> list[str]:
    """Each line of the repository's text files (those above) that names a path outside the clone."""
    found = []
    for pattern in SCANNED:
        for path in sorted(root.glob(pattern)):
            if not path.is_file() or path.suffix in {".png", ".gif", ".pt", ".safetensors"}:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8", errors="ignore").splitlines(), 1):
                if OUTSIDE.search(line):
                    found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    return found


def test_nothing_points_outside_the_clone():
    """The brief and the spec are restated in docs/spec.md; no page, comment or docstring sends a reader to a file
    that only the machine the project was written on has."""
    assert outside_references() == []


def test_the_outside_check_sees_the_old_readme(tmp_path):
    (tmp_path / "README.md").write_text("- The brief: `../" "shared/" "mission/seed." "txt`.\n- plain text\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/x.md").write_text("follows the spec, " "SPEC." "md; see [spec.md](spec.md)\n")
    assert [f.split(":")[0] for f in outside_references(tmp_path)] == ["README.md", "docs/x.md"]


def spec_rows() -> list[tuple[str, str, str]]:
    """(section, key, value) of each table row of docs/spec.md whose first cell is one `params.yaml` key; section is
    the one key a heading names in parentheses, "### The models (`parta.deepfloyd_if.common`)", or ""."""
    rows, section = [], ""
    for line in (ROOT / "docs/spec.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            named = re.findall(r"`([a-z_0-9.]+)`", line)
            section = named[0] if len(named) == 1 else ""
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and re.fullmatch(r"`[a-z_0-9.]+`", cells[0]):
            rows.append((section, cells[0].strip("`"), cells[1]))
    return rows


def lookup(params: dict, key: str):
    """params.yaml's value at a dotted key, or KeyError."""
    node = params
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(key)
        node = node[part]
    return node


def normalised(value):
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    if isinstance(value, list):
        return [normalised(v) for v in value]
    return value


def test_the_spec_page_quotes_params_yaml():
    """Each value docs/spec.md gives for a full params.yaml key is the committed one (the text before a remark in
    parentheses, read as YAML; rows keyed relative to a section are not checked)."""
    import yaml

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    checked, wrong = 0, []
    for section, key, shown in spec_rows():
        for full in (key, f"{section}.{key}" if section else key):
            try:
                node = lookup(params, full)
                break
            except KeyError:
                node = None
        if node is None or isinstance(node, dict):
            continue
        try:
            quoted = yaml.safe_load(shown.split(" (")[0].strip())
        except yaml.YAMLError:
            continue
        if isinstance(quoted, str) and re.search(r"[\s,]", quoted):
            continue  # prose, not a value
        checked += 1
        if normalised(quoted) != normalised(node):
            wrong.append(f"{full}: docs/spec.md says {shown!r}, params.yaml {node!r}")
    assert wrong == []
    assert checked >= 60, f"only {checked} rows of docs/spec.md name a params.yaml key"
