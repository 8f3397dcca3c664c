import click

from mmvc.cli.main import MmvcCommand, RichHelpMixin


class RecipeGroup(RichHelpMixin, click.Group):
    def command_summary(self, name: str) -> str:
        return self.commands[name].get_short_help_str(80)


@click.group("recipe", cls=RecipeGroup)
def command():
    """Name an immutable selection of a version: filter, mixture weights, seed, epoch size."""


def _show(info, stats: bool) -> None:
    click.echo(f"recipe  {info.name or '-'}  {info.oid}")
    click.echo(f"commit  {info.commit}  ({info.rev}, {info.gate})")
    click.echo(f"filter  {info.filter or '(all items)'}")
    click.echo(f"seed    {info.seed}")
    click.echo(f"epoch   {info.epoch_size if info.epoch_size is not None else 'every selected item once'}")
    for m in info.mix:
        click.echo(f"mix     {m['weight']:g}  {m['where']}")
    if stats:
        click.echo(f"items   {info.selected} of {info.items} selected; {info.samples} samples per epoch")
        for c in info.components:
            where = c["where"] if c["where"] and c["where"].upper() != "TRUE" else "(the whole selection)"
            click.echo(f"  {c['samples']:>10} samples from a pool of {c['pool']:<8} {where}")


@command.command("create", cls=MmvcCommand)
@click.argument("name")
@click.option("--rev", default="HEAD", show_default=True, help="The version the recipe selects from.")
@click.option("--where", help="A catalog filter, e.g. \"modality IN ('image','text')\".")
@click.option("--mix", help="Mixture: PREDICATE:WEIGHT,… e.g. \"source='coco':0.7,source='fineweb':0.3\".")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random choice.")
@click.option("--epoch-size", "--epochs-size", "epoch_size", type=int, help="Samples per epoch (default: every selected item once).")
@click.option("-f", "--force", is_flag=True, help="Point an existing name at the new recipe.")
@click.option("--allow-ungated", is_flag=True, help="Allow a version whose items never passed `mmvc process`.")
@click.option("--json", "as_json", is_flag=True, help="Print the recipe as JSON.")
def create(name, rev, where, mix, seed, epoch_size, force, allow_ungated, as_json):
    """Create recipe NAME (refs/recipes/NAME) over version REV."""
    from mmvc.cli.render import emit_json
    from mmvc.ops.recipe import create_recipe
    from mmvc.repo import Repo

    info = create_recipe(Repo.discover(), name, rev, where=where, mix=mix, seed=seed, epoch_size=epoch_size,
                         force=force, allow_ungated=allow_ungated)
    if as_json:
        emit_json(info)
        return
    _show(info, True)


@command.command("show", cls=MmvcCommand)
@click.argument("name")
@click.option("--stats", is_flag=True, help="Also count the items and samples it selects (reads the version).")
@click.option("--json", "as_json", is_flag=True, help="Print the recipe as JSON.")
def show(name, stats, as_json):
    """Show recipe NAME (or a recipe object id)."""
    from mmvc.cli.render import emit_json
    from mmvc.ops.recipe import show_recipe
    from mmvc.repo import Repo

    info = show_recipe(Repo.discover(), name, stats=stats)
    if as_json:
        emit_json(info)
        return
    _show(info, stats)


@command.command("list", cls=MmvcCommand)
@click.option("--json", "as_json", is_flag=True, help="List recipes as JSON.")
def list_(as_json):
    """List recipes."""
    from mmvc.cli.render import emit_json
    from mmvc.ops.recipe import list_recipes
    from mmvc.repo import Repo

    infos = list_recipes(Repo.discover())
    if as_json:
        emit_json(infos)
        return
    for i in infos:
        click.echo(f"{i.name}  {i.oid[:12]}  {i.rev}@{i.commit[:12]}  seed={i.seed}" + (f"  mix={len(i.mix)}" if i.mix else ""))


@command.command("delete", cls=MmvcCommand)
@click.argument("name")
def delete(name):
    """Delete the name NAME (the recipe object stays until `mmvc gc`)."""
    from mmvc.cli.render import chatter
    from mmvc.ops.recipe import delete_recipe
    from mmvc.repo import Repo

    info = delete_recipe(Repo.discover(), name)
    chatter(f"Deleted recipe {info.name} (was {info.oid[:12]})")
