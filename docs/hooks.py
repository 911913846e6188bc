"""MkDocs hooks generating the configuration and CLI references from the code.

Pages carry markers that are replaced at build time, so the references cannot drift
from what the code accepts.
"""

import contextlib
import inspect
import io
from typing import Any

from docstring_parser import parse

CONFIG_MARKER = '<!-- geokd:configuration -->'
CLI_MARKER = '<!-- geokd:cli -->'


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
    return (
        text.replace('typing.', '').replace('collections.abc.', '').replace('|', '\\|')
    )


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
                meaning = described.get(name, '').replace('|', '\\|')
                out.append(
                    f'| {key} | `{_type_name(p.annotation)}` | {default} | {meaning} |'
                )
            out.append('')
    return '\n'.join(out)


def cli_help(args: list[str]) -> str:
    """Capture the help text of a geokd command.

    Args:
        args: Arguments ending in ``--help``.

    Returns:
        What the command printed.
    """
    from geokd.main import main

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.suppress(SystemExit):
        main(args)
    return buffer.getvalue().rstrip()


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
