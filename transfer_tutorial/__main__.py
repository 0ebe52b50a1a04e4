from transfer_tutorial.cli import cli

cli()
