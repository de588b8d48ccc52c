"""``python -m analogc`` runs the CLI."""

from analogc.cli import main

main()
