"""The Starlette application: each page is one view (mmvc.ui.views) served twice, as HTML at
``/<page>`` and as JSON at ``/api/<page>``; thumbnails and raw bytes come from the store.

Read-only by construction: no route writes to the repository (only to its UI cache). Every
failure is an error page (or JSON) with a status code and one line; a traceback never reaches
the browser. Repository reads are serialised by one lock: the manifest node cache and the
catalog handles are not built for concurrent use, and a local UI has one user.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading

from mmvc.core.modality import BY_NAME, sniff
from mmvc.errors import BadInputError, ExtraMissingError, MmvcError, NotARepoError
from mmvc.ui import views
from mmvc.ui.thumbs import NoThumbnail, ThumbnailCache

HERE = os.path.dirname(os.path.abspath(__file__))
IMMUTABLE = "public, max-age=31536000, immutable"
MAX_UPLOAD = 32 << 20
log = logging.getLogger("mmvc.ui")


def create_app(repo, rev: str = "HEAD"):
    """The web app over ``repo``; ``rev`` is the version the first grid link points at."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    lock = threading.RLock()
    thumbs = ThumbnailCache(repo)
    env = Environment(loader=FileSystemLoader(os.path.join(HERE, "templates")), autoescape=select_autoescape(["html"]))
    env.filters["human"] = _human_bytes
    env.globals["url"] = views.url

    def respond(request: Request, template: str, build):
        """Run ``build`` under the lock and answer with the page or, under /api, its JSON."""
        is_api = request.url.path.startswith("/api/")
        try:
            with lock:
                data = build()
        except Exception as e:  # every failure becomes an error page, never a traceback
            return error(request, e)
        if is_api:
            return JSONResponse(data)
        return HTMLResponse(env.get_template(template).render(d=data, repo=_repo_info(repo), default_rev=rev))

    def error(request: Request, e: Exception):
        status, message, hint = _status(e)
        if status >= 500:
            log.error("%s %s failed", request.method, request.url.path, exc_info=e)
        if request.url.path.startswith("/api/") or request.url.path.startswith("/thumb/"):
            return JSONResponse({"error": message, "hint": hint, "status": status}, status_code=status)
        html = env.get_template("error.html").render(status=status, message=message, hint=hint, repo=_repo_info(repo), default_rev=rev)
        return HTMLResponse(html, status_code=status)

    q = lambda request, name: request.query_params.get(name)  # noqa: E731

    def page_versions(request):
        return respond(request, "versions.html", lambda: views.versions(repo))

    def page_grid(request):
        def build():
            page = views.int_param(q(request, "page"), "page", 1, 1, views.MAX_PAGE)
            per_page = views.int_param(q(request, "per_page"), "per_page", views.PER_PAGE, 1, views.MAX_PER_PAGE)
            return views.grid(repo, q(request, "rev") or rev, page, per_page, (q(request, "where") or "").strip() or None)
        return respond(request, "grid.html", build)

    def page_item(request):
        return respond(request, "item.html", lambda: views.item(repo, q(request, "rev") or rev, q(request, "key")))

    def page_curation(request):
        return respond(request, "curation.html", lambda: views.curation(repo, q(request, "rev") or None))

    def page_diff(request):
        def build():
            a, b = q(request, "a"), q(request, "b")
            if not a or not b:
                raise views.PageError(400, "a diff needs two revisions", "e.g. /diff?a=main~1&b=main")
            return views.diff(repo, a, b, views.int_param(q(request, "limit"), "limit", views.DIFF_LIMIT, 1, views.MAX_DIFF_LIMIT))
        return respond(request, "diff.html", build)

    def page_datasheet(request):
        return respond(request, "datasheet.html", lambda: views.datasheet(repo, q(request, "rev") or rev))

    async def page_search(request):
        params = dict(request.query_params)
        upload = None
        if request.method == "POST":
            try:
                form = await request.form(max_files=1, max_fields=10)
            except Exception as e:
                return error(request, views.PageError(400, f"the upload cannot be read ({e})", "send one image file as 'image'"))
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
            f = form.get("image")
            if f is not None and not isinstance(f, str) and f.filename:
                data = await f.read(MAX_UPLOAD + 1)
                if len(data) > MAX_UPLOAD:
                    return error(request, views.PageError(413, "the image is larger than 32 MB", "upload a smaller example"))
                upload = data

        def build():
            k = views.int_param(params.get("k"), "k", 12, 1, 200)
            image_path = None
            try:
                if upload is not None:
                    fd, image_path = tempfile.mkstemp(prefix="mmvc-ui-query-")
                    with os.fdopen(fd, "wb") as out:
                        out.write(upload)
                return views.search(repo, params.get("rev") or rev, (params.get("q") or "").strip() or None, image_path,
                                    params.get("modality") or None, k, (params.get("where") or "").strip() or None)
            finally:
                if image_path:
                    os.unlink(image_path)

        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(respond, request, "search.html", build)

    def thumb(request):
        oid = request.path_params["oid"]
        etag = None
        try:
            if not _is_blob_id(oid):
                raise views.PageError(404, f"{oid!r} is not a blob id", "thumbnails are addressed by a 64-digit blob id")
            size = views.int_param(q(request, "size"), "size", 256, 1, 4096)
            etag = f'"{oid}-{size}"'
            if request.headers.get("if-none-match") == etag:
                return Response(status_code=304, headers={"ETag": etag, "Cache-Control": IMMUTABLE})
            m = q(request, "m")
            if m is not None and m not in BY_NAME:
                raise views.PageError(400, f"unknown modality {m!r}", f"use one of {', '.join(BY_NAME)}")

            def read(blob):
                with lock:
                    if not repo.store.has(blob):
                        raise views.PageError(404, f"no blob {blob} in this repository", None)
                    return repo.store.get(blob)

            if m:
                got = thumbs.get(oid, BY_NAME[m], size, read=read)
            else:  # no modality given: sniff it from the bytes
                data = read(oid)
                got = thumbs.get(oid, sniff(data[:4096]), size, read=lambda _b: data)
        except Exception as e:
            return error(request, e)
        return Response(got.data, media_type="image/jpeg",
                        headers={"ETag": etag, "Cache-Control": IMMUTABLE, "X-Thumbnail-Cache": "hit" if got.cached else "miss"})

    def raw(request):
        try:
            with lock:
                data, ctype, name = views.raw(repo, q(request, "rev") or rev, q(request, "key"))
        except Exception as e:
            return error(request, e)
        disp = "attachment" if q(request, "download") else "inline"
        return Response(data, media_type=ctype, headers={"Content-Disposition": f'{disp}; filename="{_header_safe(name)}"',
                                                          "X-Content-Type-Options": "nosniff"})

    def plot(request):
        try:
            data = views.datasheet_plot(repo, request.path_params["commit"], request.path_params["name"])
        except Exception as e:
            return error(request, e)
        return Response(data, media_type="image/png", headers={"Cache-Control": IMMUTABLE})

    pages = [("/", page_versions), ("/grid", page_grid), ("/item", page_item), ("/curation", page_curation),
             ("/diff", page_diff), ("/datasheet", page_datasheet)]
    routes: list = [Route(p, fn) for p, fn in pages]
    routes += [Route("/api" + (p if p != "/" else "/versions"), fn) for p, fn in pages]
    routes += [Route("/search", page_search, methods=["GET", "POST"]), Route("/api/search", page_search, methods=["GET", "POST"]),
               Route("/thumb/{oid}", thumb), Route("/raw", raw), Route("/datasheet-plot/{commit}/{name}", plot),
               Mount("/static", app=StaticFiles(directory=os.path.join(HERE, "static")), name="static")]

    async def not_found(request, exc):
        status = getattr(exc, "status_code", 404)
        return error(request, views.PageError(status, f"no page at {request.url.path}" if status == 404 else str(exc.detail), "start at /"))

    async def internal(request, exc):
        return error(request, exc)

    return Starlette(routes=routes, exception_handlers={HTTPException: not_found, Exception: internal})


def _status(e: Exception) -> tuple[int, str, str | None]:
    if isinstance(e, views.PageError):
        return e.status, e.message, e.hint
    if isinstance(e, NoThumbnail):
        return 415, e.message, e.hint
    if isinstance(e, ExtraMissingError):
        return 501, e.message, e.hint
    if isinstance(e, BadInputError):
        return 400, e.message, e.hint
    if isinstance(e, NotARepoError):
        return 500, e.message, e.hint
    if isinstance(e, MmvcError):
        return 500, e.message, e.hint
    return 500, f"internal error: {type(e).__name__}", "this is a bug in mmvc; the server's log has the traceback"


def _is_blob_id(oid: str) -> bool:
    return len(oid) == 64 and all(c in "0123456789abcdef" for c in oid)


def _header_safe(name: str) -> str:
    return "".join(c if c.isprintable() and c not in '"\\' else "_" for c in name)


def _repo_info(repo) -> dict:
    return {"root": repo.root, "name": os.path.basename(repo.root)}


def _human_bytes(n) -> str:
    n = float(n or 0)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
