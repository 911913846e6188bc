"""The commands of docs/scaling.md, run as the tutorials' are (tests/docs/test_tutorials.py).

Its ``bash`` and ``python`` blocks run top to bottom in a scratch directory with a
``geokd`` wrapper that appends tiny settings. ``sh`` blocks need GPUs or a cluster and
are shown, not run; the SLURM job's ``srun geokd fit`` command is run by
:func:`test_sbatch_command_under_a_simulated_srun` with two CPU tasks standing for the
GPUs, in the environment ``srun`` gives its tasks.
"""

import os
import random
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch.distributed

from ..docs.test_tutorials import code_blocks, tiny_geokd
from .runs import ROOT, environment

PAGE = ROOT / 'docs' / 'scaling.md'

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
    reason='needs torch.distributed with gloo',
)

#: What makes the page's commands tiny (the demo's patches are 64 px, and 32 px keep
#: the tiny trunk's feature maps above 1x1 under bf16 on the CPU).
TINY = (
    '--model.init_args.backbone test_resnet --data.init_args.samples_per_class 10 '
    '--data.init_args.size 32 --data.init_args.batch_size 4 '
    '--data.init_args.num_workers 0 --trainer.limit_train_batches 2 '
    '--trainer.limit_val_batches 1 --trainer.limit_test_batches 1 '
    '--trainer.enable_progress_bar false'
)


# Trains with two DDP processes, as the page does: 80 s in one full run on the
# shared 2-core machine under load, too slow for the CI suite.
@pytest.mark.slow
def test_scaling_page_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / 'configs').symlink_to(ROOT / 'configs')
    wrapper = tmp_path / '.bin'
    wrapper.mkdir()
    tiny_geokd(wrapper, {'fit': TINY})
    monkeypatch.chdir(tmp_path)
    path = os.pathsep.join([str(wrapper), str(Path(sys.executable).parent)])
    env = environment(PATH=f'{path}{os.pathsep}{os.environ["PATH"]}')
    namespace: dict[str, object] = {'__name__': 'scaling'}
    blocks = code_blocks(PAGE)
    assert [lang for lang, _ in blocks] == ['bash', 'python', 'bash', 'python', 'bash']
    for i, (lang, code) in enumerate(blocks):
        if lang == 'bash':
            done = subprocess.run(
                ['bash', '-euo', 'pipefail', '-c', code],
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            assert done.returncode == 0, (
                f'block {i} failed:\n{code}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}'
            )
        else:
            exec(compile(code, f'scaling.md[block {i}]', 'exec'), namespace)
    # The resumed run trained a second epoch of 2 steps on top of the first.
    assert namespace['last']['epoch'] == 1  # type: ignore[index]
    assert namespace['last']['global_step'] == 4  # type: ignore[index]
    # Every scene classified by the workers.
    for i in range(4):
        assert (tmp_path / 'predictions' / f's1_{i}_classes.tif').is_file()


def sbatch_command() -> list[str]:
    """The arguments after ``srun geokd`` in the page's sbatch script."""
    [script] = [
        code
        for lang, code in re.findall(
            r'^```(\w+)\n(.*?)^```', PAGE.read_text(), re.DOTALL | re.MULTILINE
        )
        if lang == 'sh'
    ]
    command = script.split('\nsrun ', 1)[1].replace('\\\n', ' ')
    words = shlex.split(command)
    assert words[0] == 'geokd'
    return words[1:]


@pytest.mark.slow
def test_sbatch_command_under_a_simulated_srun(tmp_path: Path) -> None:
    args = sbatch_command()
    assert args[:3] == ['fit', '--config', 'configs/eurosat_ms_sar.yaml']
    args[2] = str(ROOT / args[2])
    # 2 CPU tasks on 1 node instead of 4 GPUs on each of 2 nodes, on the fixture.
    args += [
        '--trainer.accelerator=cpu',
        '--trainer.devices=2',
        '--trainer.num_nodes=1',
        '--trainer.precision=32-true',
        f'--trainer.default_root_dir={tmp_path / "run"}',
        f'--data.init_args.root={ROOT / "tests" / "data" / "eurosat_ms_sar"}',
        '--data.init_args.download=false',
        '--data.init_args.num_workers=0',
        '--data.init_args.batch_size=4',
        '--model.init_args.backbone=test_resnet',
        '--trainer.max_epochs=1',
    ]
    # SLURM derives the port from the job id: a random one avoids other tests' ports.
    job = str(random.randint(100_000, 999_999))
    slurm = {
        'SLURM_JOB_ID': job,
        'SLURM_JOB_NAME': 'geokd',
        'SLURM_NTASKS': '2',
        'SLURM_NTASKS_PER_NODE': '2',
        'SLURM_NNODES': '1',
        'SLURM_NODEID': '0',
        'SLURM_NODELIST': '127.0.0.1',
    }
    tasks = [
        subprocess.Popen(
            [sys.executable, '-m', 'geokd', *args],
            cwd=tmp_path,
            env=environment(**slurm, SLURM_PROCID=str(r), SLURM_LOCALID=str(r)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for r in (0, 1)
    ]
    outputs = [task.communicate(timeout=600)[0] for task in tasks]
    assert [task.returncode for task in tasks] == [0, 0], outputs[0][-3000:]
    # Lightning took the ranks from SLURM: each task is one process of the job.
    for rank, output in enumerate(outputs):
        assert 'SLURM auto-requeueing enabled' in output
        assert f'GLOBAL_RANK: {rank}, MEMBER: {rank + 1}/2' in output
    assert outputs[0].count('Exported the sar classifier') == 1
    assert 'Exported' not in outputs[1]
