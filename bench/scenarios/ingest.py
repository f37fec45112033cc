"""placeholder"""

NAME = "ingest"
HELP = "todo"


def arguments(parser):
    pass


def execute(args, topology):
    raise NotImplementedError
