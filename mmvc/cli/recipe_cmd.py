import click

from mmvc.cli import complete
from mmvc.cli.console import json_option, pass_console
from mmvc.cli.main import MmvcCommand, MmvcSubgroup


@click.group("recipe", cls=MmvcSubgroup, examples=[
    ('mmvc recipe create mix-v2 --rev v1 --mix "source=\'coco\':0.7,source=\'fineweb\':0.3" --epoch-size 10000', "a mixture of two sources"),
    ("mmvc export --webdataset out/ --recipe mix-v2", "export its epoch"),
])
def command():
    """Name an immutable selection of a version: filter, mixture weights, seed, epoch size."""


def _show(con, info, stats: bool) -> None:
    out = con.data
    out(f"recipe  {info.name or '-'}  {info.oid}")
    out(f"commit  {info.commit}  ({info.rev}, {info.gate})")
    out(f"filter  {info.filter or '(all items)'}")
    out(f"seed    {info.seed}")
    if info.epoch_size is not None:
        out(f"epoch   {info.epoch_size} samples, shared out by weight")
    elif info.mix:
        out("epoch   as many samples as the components' pools hold together, shared out by weight")
    else:
        out("epoch   every selected item once")
    for m in info.mix:
        out(f"mix     {m['weight']:g}  {m['where']}")
    if not stats:
        return
    covered = info.selected - info.uncovered
    out(f"items   {info.selected} of {info.items} selected" + (f"; {covered} in a component, {info.uncovered} in none" if info.mix else "")
        + f"; {info.samples} samples per epoch")
    for c in info.components:
        where = c["where"] if c["where"] and c["where"].upper() != "TRUE" else "(the whole selection)"
        out(f"  {c['samples']:>10} samples from a pool of {c['pool']:<8} {_draws(c['samples'], c['pool'])}  {where}")
    if info.uncovered:
        con.warn(f"warning: {info.uncovered} of the {info.selected} selected items belong to no mixture component and are never "
                 "drawn; add a component for them (a last TRUE:WEIGHT takes all the rest), or narrow --where")


def _draws(samples: int, pool: int) -> str:
    """What an epoch does with a component's pool: each item once, some left out, or repeats."""
    if samples == pool:
        return "(each item once)"
    if samples < pool:
        return f"({pool - samples} not drawn this epoch)"
    rounds, rest = divmod(samples, pool)
    times = "once" if rounds == 1 else f"{rounds} times"
    return f"(each item {times}" + (f", {rest} of them once more)" if rest else ")")


@command.command("create", cls=MmvcCommand, examples=[
    ("mmvc recipe create images-512 --where 'width >= 512' --seed 7", "a filtered selection of HEAD"),
    ('mmvc recipe create mix-v2 --rev v1 --mix "source=\'coco\':0.7,source=\'fineweb\':0.3" --epoch-size 10000', "a mixture of two sources"),
])
@click.argument("name")
@click.option("--rev", default="HEAD", show_default=True, shell_complete=complete.revisions, help="The version the recipe selects from.")
@click.option("--where", help="A catalog filter, e.g. \"modality IN ('image','text')\".")
@click.option("--mix", help="Mixture: PREDICATE:WEIGHT,… e.g. \"source='coco':0.7,source='fineweb':0.3\".")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random choice.")
@click.option("--epoch-size", "--epochs-size", "epoch_size", type=int, help="Samples per epoch (default: every selected item once).")
@click.option("-f", "--force", is_flag=True, help="Point an existing name at the new recipe.")
@click.option("--allow-ungated", is_flag=True, help="Allow a version whose items never passed `mmvc process`.")
@json_option("Print the recipe as JSON.")
@pass_console
def create(con, name, rev, where, mix, seed, epoch_size, force, allow_ungated, as_json):
    """Create recipe NAME (refs/recipes/NAME) over version REV."""
    from mmvc.repo import Repo

    info = Repo.discover().create_recipe(name, rev, where=where, mix=mix, seed=seed, epoch_size=epoch_size,
                                         force=force, allow_ungated=allow_ungated)
    if as_json:
        con.json_value(info)
        return
    _show(con, info, True)


@command.command("show", cls=MmvcCommand, examples=[
    ("mmvc recipe show mix-v2 --stats", "what the recipe selects and what an epoch draws from each component"),
])
@click.argument("name", shell_complete=complete.recipes)
@click.option("--stats", is_flag=True, help="Also count the items and samples it selects (reads the version).")
@json_option("Print the recipe as JSON.")
@pass_console
def show(con, name, stats, as_json):
    """Show recipe NAME (or a recipe object id)."""
    from mmvc.repo import Repo

    info = Repo.discover().show_recipe(name, stats=stats)
    if as_json:
        con.json_value(info)
        return
    _show(con, info, stats)


@command.command("list", cls=MmvcCommand, examples=[
    ("mmvc recipe list", "every recipe with its version and seed"),
])
@json_option("List recipes as JSON.")
@pass_console
def list_(con, as_json):
    """List recipes."""
    from mmvc.repo import Repo

    infos = Repo.discover().list_recipes()
    if as_json:
        con.json_value(infos)
        return
    for i in infos:
        con.data(f"{i.name}  {i.oid[:12]}  {i.rev}@{i.commit[:12]}  seed={i.seed}" + (f"  mix={len(i.mix)}" if i.mix else ""))


@command.command("delete", cls=MmvcCommand, examples=[
    ("mmvc recipe delete mix-v2", "drop the name (the object goes at the next gc)"),
])
@click.argument("name", shell_complete=complete.recipes)
@pass_console
def delete(con, name):
    """Delete the name NAME (the recipe object stays until `mmvc gc`)."""
    from mmvc.repo import Repo

    info = Repo.discover().delete_recipe(name)
    con.data(f"Deleted recipe {info.name} (was {info.oid[:12]})")
