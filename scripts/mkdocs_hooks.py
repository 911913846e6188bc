"""MkDocs hooks generating the configuration and CLI references from the code.

Pages carry markers that are replaced at build time, so the references cannot drift
from what the code accepts.
"""

import contextlib
import inspect
import io
import os
import re
import sys
from typing import Any
from unittest import mock

from docstring_parser import parse

CONFIG_MARKER = '<!-- geokd:configuration -->'
CLI_MARKER = '<!-- geokd:cli -->'

#: Width the help texts are wrapped at, whatever terminal runs the build: about what a
#: code block of Material's content column shows without scrolling.
HELP_COLUMNS = 84

_ANSI_ESCAPE = re.compile(r'\x1b\[[0-9;]*[A-Za-z]')
_OVERSTRUCK = re.compile(r'[^\n]?\x08')
_CODE_SPAN_OR_PIPE = re.compile(r'((`+).*?\2)|\|')


def documented_classes() -> dict[str, list[type]]:
    """Classes whose constructor arguments are configuration keys, by config section.

    Returns:
        ``{'model': [...], 'data': [...]}``: every task and DataModule geokd exports.
    """
    from lightning.pytorch import LightningDataModule, LightningModule

    import geokd.datamodules
    import geokd.tasks

    def configurable(module: Any, base: type) -> list[type]:
        return [
            c
            for n in module.__all__
            if inspect.isclass(c := getattr(module, n))
            and issubclass(c, base)
            and not inspect.isabstract(c)
        ]

    return {
        'model': configurable(geokd.tasks, LightningModule),
        'data': configurable(geokd.datamodules, LightningDataModule),
    }


def _type_name(annotation: Any) -> str:
    if annotation is inspect.Parameter.empty:
        return ''
    text = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    return text.replace('typing.', '').replace('collections.abc.', '')


def table_cell(text: str) -> str:
    """Escape the pipes of a Markdown table cell that are not inside code spans.

    Python-Markdown's tables never split cells at a pipe inside a code span, and show a
    backslash there literally, so only pipes outside code spans are escaped.

    Args:
        text: The cell's Markdown.

    Returns:
        The Markdown, safe inside a table row.
    """
    return _CODE_SPAN_OR_PIPE.sub(lambda m: m.group(1) or '\\|', text)


def configuration_reference() -> str:
    """Markdown tables of every constructor argument of every configurable class.

    Returns:
        The reference.
    """
    out = []
    for section, classes in documented_classes().items():
        for cls in classes:
            doc = parse(inspect.getdoc(cls.__init__) or inspect.getdoc(cls) or '')
            if not doc.params:
                doc = parse(inspect.getdoc(cls) or '')
            described = {
                p.arg_name: ' '.join(p.description.split()) for p in doc.params
            }
            path = f'{cls.__module__.rsplit(".", 1)[0]}.{cls.__name__}'
            summary = (parse(inspect.getdoc(cls) or '').short_description or '').strip()
            out += [
                f'### `{path}`',
                '',
                summary,
                '',
                f'`{section}: class_path: {path}`',
                '',
            ]
            out += ['| key | type | default | meaning |', '| --- | --- | --- | --- |']
            for name, p in inspect.signature(cls.__init__).parameters.items():
                if name == 'self' or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                    continue
                default = '(required)' if p.default is p.empty else f'`{p.default!r}`'
                key = f'`{section}.init_args.{name}`'
                cells = [key, f'`{_type_name(p.annotation)}`', default]
                cells.append(described.get(name, ''))
                out.append('| ' + ' | '.join(map(table_cell, cells)) + ' |')
            out.append('')
    return '\n'.join(out)


def terminal_text(text: str) -> str:
    """What a terminal shows for a program's output.

    Backspaces erase the character before them (jsonargparse writes ``--print_config
    \\b[=flags]`` to join the two), and colour escapes are dropped.

    Args:
        text: Raw output.

    Returns:
        The text as displayed, without backspaces or colour escapes.
    """
    text = _ANSI_ESCAPE.sub('', text)
    while '\b' in text:
        text = _OVERSTRUCK.sub('', text, count=1)
    return text


def cli_help(args: list[str]) -> str:
    """Capture the help text of a geokd command as a terminal would show it.

    The command runs as if typed in a terminal of :data:`HELP_COLUMNS` columns: its own
    ``sys.argv``, so no parser sees the build's arguments.

    Args:
        args: Arguments ending in ``--help``.

    Returns:
        What the command printed.
    """
    from geokd.main import main

    buffer = io.StringIO()
    with (
        mock.patch.object(sys, 'argv', ['geokd', *args]),
        mock.patch.dict(os.environ, {'COLUMNS': str(HELP_COLUMNS)}),
        contextlib.redirect_stdout(buffer),
        contextlib.suppress(SystemExit),
    ):
        main()
    return terminal_text(buffer.getvalue()).rstrip()


def cli_reference() -> str:
    """Help of ``geokd`` and of each of its own subcommands.

    Returns:
        Markdown with one section per command.
    """
    from geokd.main import COMMANDS

    sections = [('geokd', ['--help'])]
    sections += [(f'geokd {name}', [name, '--help']) for name in sorted(COMMANDS)]
    out = []
    for title, args in sections:
        out += [f'## `{title}`', '', '```text', cli_help(args), '```', '']
    return '\n'.join(out)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Replace the reference markers of a page.

    Args:
        markdown: The page's Markdown.
        **kwargs: Other MkDocs hook arguments.

    Returns:
        The page with generated references.
    """
    if CONFIG_MARKER in markdown:
        markdown = markdown.replace(CONFIG_MARKER, configuration_reference())
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, cli_reference())
    return markdown
