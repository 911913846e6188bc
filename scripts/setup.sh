#!/usr/bin/env bash
# Create .venv (Python >= 3.12) and install geokd in it with its test, lint and docs extras.
# Re-running is cheap: the install is redone only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
  echo "geokd needs Python >= 3.12, but '$py' is $("$py" --version 2>&1 || echo missing)." \
    "With pyenv, 'pyenv install 3.12' (this repo's .python-version then selects it);" \
    "otherwise run: PYTHON=/path/to/python3.12 bash scripts/setup.sh" >&2
  exit 1
fi
stamp=.venv/.geokd-installed
if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "Installing geokd and its dependencies into .venv (first time: a few minutes)..."
  # This machine's pip config lists local mirrors that may be missing: hide that noise only.
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[tests,lint,docs]' \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  touch "$stamp"
fi
