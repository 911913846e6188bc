"""Start-up time of ``geokd --help`` and ``geokd predict --help`` against ``import torch``.

Each command runs in a fresh interpreter, the three in turn for several rounds (so
machine load hits them alike); the script prints the median wall-clock of each and
its ratio to ``python -c "import torch"`` measured in the same run. Target: < 0.5.

    python benchmarks/startup.py --rounds 7
"""

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    'import torch': [sys.executable, '-c', 'import torch'],
    'geokd --help': [sys.executable, '-m', 'geokd', '--help'],
    'geokd predict --help': [sys.executable, '-m', 'geokd', 'predict', '--help'],
}


def wall_clock(command: list[str]) -> float:
    """Seconds one run of ``command`` takes (its output discarded)."""
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=7)
    args = parser.parse_args()
    for command in COMMANDS.values():  # warm the file cache
        wall_clock(command)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.rounds):
        for name, command in COMMANDS.items():
            times[name].append(wall_clock(command))
    reference = statistics.median(times['import torch'])
    print(f'{"command":<24}{"median s":>10}{"ratio to import torch":>24}')
    for name, values in times.items():
        median = statistics.median(values)
        print(f'{name:<24}{median:>10.3f}{median / reference:>24.3f}')


if __name__ == '__main__':
    main()
