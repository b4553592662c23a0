"""`python -m charlstm ...`: see charlstm/cli.py."""

from .cli import main

raise SystemExit(main())
