"""The ``redun`` command line."""
