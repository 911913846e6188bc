"""``python -m geokd``: same as the ``geokd`` command."""

from .main import main

if __name__ == '__main__':
    main()
