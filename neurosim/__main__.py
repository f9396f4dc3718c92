"""``python -m neurosim`` is the same as the ``neurosim`` console script."""

from neurosim.cli import main

raise SystemExit(main())
