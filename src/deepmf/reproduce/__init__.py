"""The whole paper in one command: ``python -m deepmf.reproduce`` (see ``__main__``)."""
