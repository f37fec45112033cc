"""placeholder"""

NAME = "chat"
HELP = "todo"


def arguments(parser):
    pass


def execute(args, topology):
    raise NotImplementedError
