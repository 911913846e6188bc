"""Build the documentation site once and check that it works offline and reads cleanly."""

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
MKDOCS = Path(sys.executable).parent / 'mkdocs'

#: Tags whose URL attributes a browser loads with the page (``<a href>`` only links).
LOADED = {
    'script': ('src',),
    'link': ('href',),
    'img': ('src', 'srcset'),
    'iframe': ('src',),
    'source': ('src', 'srcset'),
    'video': ('src', 'poster'),
    'audio': ('src',),
    'embed': ('src',),
    'object': ('data',),
}
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)""")
CONTROL = re.compile(r'[\x00-\x09\x0b-\x1f\x7f]')


@dataclass
class Site:
    """A built site and what the build printed."""

    root: Path
    log: str

    def page(self, name: str) -> str:
        return (self.root / name / 'index.html').read_text(encoding='utf-8')


class _Resources(HTMLParser):
    """Collect ``(tag, attrs)`` of every tag in :data:`LOADED`."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in LOADED:
            self.found.append((tag, dict(attrs)))


def resources(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Resources()
    parser.feed(html)
    return parser.found


def external(url: str) -> bool:
    """Whether loading ``url`` would reach another host (``data:`` URLs do not)."""
    parts = urlsplit(url.strip())
    return bool(parts.netloc) or parts.scheme not in ('', 'data')


@pytest.fixture(scope='module')
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    if shutil.which(MKDOCS.name, path=str(MKDOCS.parent)) is None:
        pytest.skip('mkdocs not installed')
    root = tmp_path_factory.mktemp('docs') / 'site'
    done = subprocess.run(
        [str(MKDOCS), 'build', '--strict', '--site-dir', str(root)],
        cwd=ROOT,
        # Material's end-of-life notice for itself, printed on every build; the variable
        # silences only that notice (material/templates/__init__.py).
        env={**os.environ, 'NO_MKDOCS_2_WARNING': '1'},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    return Site(root, done.stdout + done.stderr)


def test_docs_build_strict(site: Site) -> None:
    for bad in ('Traceback', 'WARNING', 'ERROR', 'Warning:'):
        assert bad not in site.log, site.log[-5000:]
    html = site.page('configuration')
    assert 'model.init_args.adv_weight' in html
    assert 'data.init_args.samples_per_class' in html


def test_site_loads_nothing_from_other_hosts(site: Site) -> None:
    pages = sorted(site.root.rglob('*.html'))
    assert len(pages) > 10
    for page in pages:
        html = page.read_text(encoding='utf-8')
        for tag, attrs in resources(html):
            for name in LOADED[tag]:
                for url in (attrs.get(name) or '').split(','):
                    assert not external(url), f'{page}: <{tag} {name}="{url}">'
        # Material's repository widget queries the host's API from every page.
        assert 'data-md-component="source"' not in html, page
    for css in site.root.rglob('*.css'):
        for url in CSS_URL.findall(css.read_text(encoding='utf-8')):
            assert not external(url), f'{css}: url({url})'


def test_mermaid_is_served_with_the_site(site: Site) -> None:
    page = site.root / 'concepts' / 'index.html'
    html = page.read_text(encoding='utf-8')
    assert '<pre class="mermaid">' in html
    scripts = [
        (page.parent / a['src']).resolve()
        for tag, a in resources(html)
        if tag == 'script' and a.get('src', '').endswith('mermaid.min.js')
    ]
    assert len(scripts) == 1
    # Material uses this global instead of fetching the library.
    assert 'globalThis["mermaid"]' in scripts[0].read_text(encoding='utf-8')
    assert 'MIT License' in (scripts[0].parent / 'LICENSE').read_text()


def test_references_render_cleanly(site: Site) -> None:
    configuration = site.page('configuration')
    assert '\\|' not in configuration
    assert '<code>int | None</code>' in configuration
    cli = site.page('cli')
    assert not CONTROL.search(cli), repr(CONTROL.search(cli))
    assert 'usage: geokd' in cli


def test_site_has_no_python_files(site: Site) -> None:
    assert not list(site.root.rglob('*.py'))


def test_code_lines_wrap_and_table_file_names_stay_whole(site: Site) -> None:
    # Material cuts long code lines at the block's edge (hiding options of the
    # commands users copy) and breaks inline code in tables mid-word.
    page = site.page('tutorials/03-classify-a-scene')
    stylesheets = [a.get('href') or '' for t, a in resources(page) if t == 'link']
    [css] = [h for h in stylesheets if h.endswith('assets/extra.css')]
    rules = (
        (site.root / 'tutorials' / '03-classify-a-scene' / css).resolve().read_text()
    )
    assert re.search(r'pre > code \{[^}]*white-space: pre-wrap', rules)
    assert re.search(r'td code \{[^}]*white-space: nowrap', rules)


def test_home_page_links_every_tutorial_and_result_page(site: Site) -> None:
    home = (site.root / 'index.html').read_text(encoding='utf-8')
    pages = [p.stem for p in sorted((ROOT / 'docs' / 'tutorials').glob('*.md'))]
    for target in [f'tutorials/{p}/' for p in pages] + ['results-synthetic/',
                                                          'results-real/']:  # fmt: skip
        assert f'href="{target}"' in home, target
