"""``python -m sapient`` runs the command line."""

from sapient.core.cli import main

raise SystemExit(main())
