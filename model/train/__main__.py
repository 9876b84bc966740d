"""``python -m model.train``: see :mod:`model.train.command`."""
from .command import main

main()
