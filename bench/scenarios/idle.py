"""placeholder"""

NAME = "idle"
HELP = "todo"


def arguments(parser):
    pass


def execute(args, topology):
    raise NotImplementedError
