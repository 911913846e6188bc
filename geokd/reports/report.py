"""``geokd report RUN_DIR``: what a person looks at after training.

Reads the run directory that ``geokd fit`` (or ``geokd benchmark``) wrote: its
``config.yaml`` (saved by LightningCLI) and ``test_results.json`` (the best
checkpoint of each classifier). For every classifier it writes, on the test split:

* ``confusion_<name>.png``: the confusion matrix;
* ``per_class_<name>.csv``: precision, recall, F1 and support per class;

and for DisCoM-KD models also

* ``embeddings.png``: t-SNE of ``z_inv``, ``z_inf`` and ``z_irr`` of every modality,
  coloured by class and by modality, as in the paper's analysis;
* ``diagnostics.json``: accuracy of the discriminator ``D_adv`` on ``z_inv`` against
  chance ``1/M`` (near chance means modality-invariant) and the mean cosines of the
  pairs ``L_perp`` pushes towards orthogonality.

Everything is summarised in ``report.md``.
"""

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from sklearn.manifold import TSNE
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from torch import Tensor

from ..datamodules import MultiModalDataModule
from ..errors import CommandParser, int_at_least, output_error
from ..losses import mean_cosine
from ..tasks import DisCoMKDTask, PerClassifierTask
from .run import class_names_of, load_run, load_weights


def _batches(datamodule: LightningDataModule, split: str) -> Any:
    """Preprocessed batches of a split, without augmentation."""
    datamodule.setup('test' if split == 'test' else 'fit')
    loader = (
        datamodule.test_dataloader() if split == 'test' else datamodule.val_dataloader()
    )
    for batch in loader:
        if isinstance(datamodule, MultiModalDataModule):
            batch = datamodule.normalize(batch)
        yield batch


@torch.no_grad()
def predict(
    task: PerClassifierTask, datamodule: LightningDataModule, name: str, split: str
) -> tuple[np.ndarray, np.ndarray]:
    """Predicted and true classes of one classifier on a split.

    Args:
        task: Trained task, with ``predict_step`` returning probabilities per name.
        datamodule: Its DataModule.
        name: Classifier name.
        split: 'val' or 'test'.

    Returns:
        Predicted and true class indices.
    """
    task.eval()
    preds, labels = [], []
    for i, batch in enumerate(_batches(datamodule, split)):
        preds.append(task.predict_step(batch, i)[name].argmax(dim=1))
        labels.append(batch.get(f'label_{name}', batch.get('label')))
    return torch.cat(preds).numpy(), torch.cat(labels).numpy()


def per_class_table(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str]
) -> list[dict[str, Any]]:
    """Precision, recall, F1 and support of every class.

    Args:
        y_true: True class indices.
        y_pred: Predicted class indices.
        class_names: Name of each class index.

    Returns:
        One row per class, in label order.
    """
    labels = list(range(len(class_names)))
    p, r, f, s = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    return [
        {
            'class': c,
            'precision': float(p[i]),
            'recall': float(r[i]),
            'f1': float(f[i]),
            'support': int(s[i]),
        }
        for i, c in enumerate(class_names)
    ]


def plot_confusion(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    class_names: Sequence[str],
    title: str,
    path: Path,
) -> None:
    """Save a confusion matrix (rows: true class, columns: predicted) as a PNG.

    Args:
        y_true: True class indices.
        y_pred: Predicted class indices.
        class_names: Name of each class index.
        title: Figure title.
        path: Output file.
    """
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    matrix = confusion_matrix(y_true, y_pred, labels=list(range(len(class_names))))
    size = 3 + 0.6 * len(class_names)
    fig, ax = plt.subplots(figsize=(size, size))
    ConfusionMatrixDisplay(matrix, display_labels=list(class_names)).plot(
        ax=ax, xticks_rotation='vertical', colorbar=False
    )
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


@torch.no_grad()
def discomkd_embeddings(
    task: DisCoMKDTask, datamodule: LightningDataModule, split: str
) -> dict[str, Tensor]:
    """Embeddings, labels and discriminator logits of every modality on a split.

    Args:
        task: Trained DisCoM-KD task.
        datamodule: Its DataModule (paired samples).
        split: 'val' or 'test'.

    Returns:
        ``z_inv``, ``z_inf``, ``z_irr``, ``mod_adv``, ``label`` and ``modality``
        (integer index), stacked over all modalities.
    """
    task.eval()
    parts: dict[str, list[Tensor]] = {}
    for batch in _batches(datamodule, split):
        images, labels = task._unpack(batch)
        for m, out in task.model(images).items():
            for key in ('z_inv', 'z_inf', 'z_irr', 'mod_adv'):
                parts.setdefault(key, []).append(getattr(out, key))
            parts.setdefault('label', []).append(labels[m])
            parts.setdefault('modality', []).append(
                torch.full_like(labels[m], task.model.modality_index(m))
            )
    return {k: torch.cat(v) for k, v in parts.items()}


def diagnostics(emb: dict[str, Tensor], num_modalities: int) -> dict[str, float]:
    """Disentanglement diagnostics of DisCoM-KD embeddings.

    Args:
        emb: Output of :func:`discomkd_embeddings`.
        num_modalities: Number of modalities ``M``.

    Returns:
        ``adv_acc`` (accuracy of ``D_adv`` on ``z_inv``), ``adv_chance`` (``1/M``),
        ``cos_inf_irr`` and ``cos_inf_inv`` (mean cosines, 0 = orthogonal).
    """
    adv_pred = emb['mod_adv'].argmax(dim=1)
    return {
        'adv_acc': float((adv_pred == emb['modality']).float().mean()),
        'adv_chance': 1 / num_modalities,
        'cos_inf_irr': float(mean_cosine(emb['z_inf'], emb['z_irr'])),
        'cos_inf_inv': float(mean_cosine(emb['z_inf'], emb['z_inv'])),
    }


def plot_embeddings(
    emb: dict[str, Tensor],
    class_names: Sequence[str],
    modalities: Sequence[str],
    path: Path,
    max_points: int = 600,
    seed: int = 0,
) -> None:
    """t-SNE of ``z_inv``, ``z_inf`` and ``z_irr``, coloured by class and by modality.

    Args:
        emb: Output of :func:`discomkd_embeddings`.
        class_names: Name of each class index.
        modalities: Name of each modality index.
        path: Output PNG.
        max_points: At most this many points (an even subsample) per panel.
        seed: Seed of the subsample and of t-SNE.
    """
    import matplotlib.pyplot as plt

    n = len(emb['label'])
    keep = np.random.default_rng(seed).permutation(n)[: min(n, max_points)]
    labels = emb['label'].numpy()[keep]
    modality = emb['modality'].numpy()[keep]
    fig, axes = plt.subplots(2, 3, figsize=(15, 9))
    for col, key in enumerate(('z_inv', 'z_inf', 'z_irr')):
        x = emb[key].numpy()[keep]
        xy = TSNE(
            2, perplexity=min(30.0, (len(x) - 1) / 3), init='pca', random_state=seed
        ).fit_transform(x)
        for row, (values, names) in enumerate(
            ((labels, class_names), (modality, modalities))
        ):
            ax = axes[row, col]
            cmap = plt.get_cmap('tab10' if len(names) <= 10 else 'tab20')
            for i, name in enumerate(names):
                sel = values == i
                if sel.any():
                    ax.scatter(*xy[sel].T, s=6, color=cmap(i % cmap.N), label=name)
            ax.set_title(f'{key} by {"class" if row == 0 else "modality"}')
            ax.set_xticks([])
            ax.set_yticks([])
        axes[1, col].legend(markerscale=3, fontsize=8)
    axes[0, 2].legend(
        markerscale=3, fontsize=7, loc='center left', bbox_to_anchor=(1, 0.5)
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _markdown_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    lines = [
        '| Class | Precision | Recall | F1 | Support |',
        '|---|---|---|---|---|',
    ]
    lines += [
        f'| {r["class"]} | {r["precision"]:.3f} | {r["recall"]:.3f} '
        f'| {r["f1"]:.3f} | {r["support"]} |'
        for r in rows
    ]
    return lines


def write_report(
    run_dir: Path,
    output: Path | None = None,
    split: str = 'test',
    max_points: int = 600,
) -> Path:
    """Write the report of a run.

    Args:
        run_dir: Log directory of the run (``config.yaml``, ``test_results.json``).
        output: Report directory; default ``<run_dir>/report``.
        split: 'test' or 'val'.
        max_points: Most points in each t-SNE panel.

    Returns:
        Path of ``report.md``.
    """
    task, datamodule, results = load_run(run_dir)
    output = output or run_dir / 'report'
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise output_error(output, err) from err
    class_names = class_names_of(task, datamodule)
    lines = [f'# Report of {run_dir}', '', f'Split: {split}.', '']
    for name in task.modalities:
        if name not in results:
            continue
        trained = load_weights(task, datamodule, results[name].get('checkpoint'))
        y_pred, y_true = predict(trained, datamodule, name, split)
        rows = per_class_table(y_true, y_pred, class_names)
        with (output / f'per_class_{name}.csv').open('w', newline='') as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        accuracy = float((y_pred == y_true).mean())
        plot_confusion(
            y_true,
            y_pred,
            class_names,
            f'{name}: accuracy {accuracy:.3f} ({split})',
            output / f'confusion_{name}.png',
        )
        checkpoint = results[name].get('checkpoint') or '(final weights)'
        lines += [
            f'## Classifier {name}',
            '',
            f'Checkpoint: `{checkpoint}`. Accuracy {accuracy:.4f}.',
            '',
            f'![confusion matrix of {name}](confusion_{name}.png)',
            '',
            *_markdown_table(rows),
            '',
        ]
    if isinstance(task, DisCoMKDTask):
        lines += _discomkd_section(task, datamodule, results, output, split, max_points)
    path = output / 'report.md'
    path.write_text('\n'.join(lines) + '\n')
    return path


def _discomkd_section(
    task: DisCoMKDTask,
    datamodule: LightningDataModule,
    results: dict[str, dict[str, Any]],
    output: Path,
    split: str,
    max_points: int,
) -> list[str]:
    """Embedding plot and diagnostics of the jointly trained model.

    Every modality's branch and the shared heads are taken from one epoch: the best
    epoch of the first modality (the network all classifiers were trained in).
    """
    first = task.modalities[0]
    checkpoint = results.get(first, {}).get('checkpoint')
    task = load_weights(task, datamodule, checkpoint)
    emb = discomkd_embeddings(task, datamodule, split)
    diag = diagnostics(emb, len(task.modalities))
    (output / 'diagnostics.json').write_text(json.dumps(diag, indent=2))
    plot_embeddings(
        emb,
        class_names_of(task, datamodule),
        task.modalities,
        output / 'embeddings.png',
        max_points,
    )
    weights = (
        f'the weights of {Path(checkpoint).name} (best epoch of {first})'
        if checkpoint
        else 'the final weights'
    )
    return [
        '## Disentanglement (DisCoM-KD)',
        '',
        f'All modalities together, with {weights}.',
        '',
        f'- D_adv accuracy on z_inv: {diag["adv_acc"]:.4f} '
        f'(chance 1/M = {diag["adv_chance"]:.4f}; near chance = modality-invariant)',
        f'- mean cos(z_inf, z_irr): {diag["cos_inf_irr"]:.4f} (0 = orthogonal)',
        f'- mean cos(z_inf, z_inv): {diag["cos_inf_inv"]:.4f} (0 = orthogonal)',
        '',
        '![t-SNE of the embeddings](embeddings.png)',
        '',
    ]


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``geokd report``.

    Args:
        argv: Command-line arguments after ``report``.

    Raises:
        GeokdError: If the run cannot be read or the report written (``geokd``
            prints it as one line).
    """
    parser = CommandParser(
        prog='geokd report',
        description='Confusion matrices, per-class scores, embedding plots and '
        'disentanglement diagnostics of a trained run.',
    )
    parser.add_argument('run_dir', type=Path, help='log directory of geokd fit')
    parser.add_argument('--output', type=Path, help='default: RUN_DIR/report')
    parser.add_argument('--split', choices=['test', 'val'], default='test')
    parser.add_argument('--max_points', type=int_at_least(4), default=600)
    args = parser.parse_args(argv)
    path = write_report(args.run_dir, args.output, args.split, args.max_points)
    print(f'Report written to {path}')
