"""Rich rendering of click help (loaded only when help is asked for).

Every piece of text goes in as a ``rich.text.Text``, never as a markup string: help mentions
config tables such as ``[process.models]``, which rich markup would swallow."""

from __future__ import annotations

import click


def render_help(cmd: click.Command, ctx: click.Context) -> str:
    from rich import box
    from rich.console import Console
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    import inspect
    import io
    import shutil

    from mmvc.cli.console import Console as MmvcConsole

    color = MmvcConsole.of(ctx).color
    con = Console(record=True, file=io.StringIO(), width=min(100, shutil.get_terminal_size((100, 24))[0]), force_terminal=color)
    pieces = cmd.collect_usage_pieces(ctx)
    con.print(Text.assemble(("Usage: ", "bold"), (ctx.command_path + " " + " ".join(pieces), "")))
    if cmd.help:
        con.print()
        con.print(Padding(Text(inspect.cleandoc(click.unstyle(cmd.help))), (0, 0, 0, 2)))

    def table(title: str) -> Table:
        t = Table(box=box.ROUNDED, title=title, title_justify="left", show_header=False, expand=True, title_style="bold")
        t.add_column(style="cyan", no_wrap=True)
        t.add_column()
        return t

    opts = [p for p in cmd.get_params(ctx) if isinstance(p, click.Option) and not p.hidden]
    if opts:
        t = table("Options")
        for p in opts:
            names = ", ".join(p.opts + p.secondary_opts)
            if not p.is_flag and not p.count:
                names += " " + (p.metavar or (p.name or "").upper())
            t.add_row(Text(names), Text(p.help or ""))
        con.print(t)
    if isinstance(cmd, click.Group):
        t = table("Commands")
        for name in cmd.list_commands(ctx):
            t.add_row(Text(name), Text(cmd.command_summary(name) if hasattr(cmd, "command_summary") else ""))
        con.print(t)
    examples = getattr(cmd, "examples", ())
    if examples:
        con.print(Text("Examples", style="bold"))
        for line, what in examples:
            con.print(Text.assemble("  ", ("$ ", "dim"), (line, "cyan")), soft_wrap=True)  # whole, to copy
            con.print(Padding(Text(what), (0, 0, 0, 4)))
    if cmd.epilog:
        con.print(Padding(Text(cmd.epilog), (1, 0, 0, 2)))
    return "\n".join(line.rstrip() for line in con.export_text(styles=color).splitlines())
