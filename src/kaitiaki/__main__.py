"""``python -m kaitiaki`` runs the command line."""

from kaitiaki.cli.app import main

main()
