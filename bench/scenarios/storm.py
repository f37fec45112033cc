"""placeholder"""

NAME = "storm"
HELP = "todo"


def arguments(parser):
    pass


def execute(args, topology):
    raise NotImplementedError
