"""``mmvc ui``: a local, read-only web app over one repository (docs/ui.md).

It is a front end beside the command line: every page reads through ``Repo`` and the services
below it, and every page has a JSON twin under ``/api`` built from the same data. Starlette,
uvicorn, Jinja2 and the media decoders load only when the server starts (``mmvc[ui]``).
"""
