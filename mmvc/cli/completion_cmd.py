import click

from mmvc.cli.console import pass_console
from mmvc.cli.main import MmvcCommand

SHELLS = ("bash", "zsh", "fish")


def completion_script(shell: str) -> str:
    """The completion script click generates for ``shell`` (also committed under completions/)."""
    from click.shell_completion import get_completion_class

    from mmvc.cli.main import cli

    cls = get_completion_class(shell)
    assert cls is not None  # the argument is a click.Choice of supported shells
    return cls(cli, {}, "mmvc", "_MMVC_COMPLETE").source()


@click.command("completion", cls=MmvcCommand, examples=[
    ("mmvc completion bash > ~/.local/share/bash-completion/completions/mmvc", "install bash completion"),
    ("mmvc completion zsh > ~/.zfunc/_mmvc", "install zsh completion (with ~/.zfunc on fpath)"),
])
@click.argument("shell", type=click.Choice(SHELLS))
@pass_console
def command(con, shell):
    """Print a shell completion script, e.g. `mmvc completion bash > ~/.local/share/bash-completion/completions/mmvc`."""
    con.write(completion_script(shell))
