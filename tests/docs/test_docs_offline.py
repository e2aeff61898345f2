"""/docs works offline: Swagger UI's files come from the app itself (vendored from npm by
`make frontend`), and the page runs under the strict Content-Security-Policy, with only
its own set-up script allowed, by hash."""

from __future__ import annotations

import base64
import hashlib
import json
import re

from tests.conftest import ROOT, World

EXTERNAL = re.compile(r"\b(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", re.IGNORECASE)
ASSET = re.compile(r'(?:src|href)="([^"]+)"')
INLINE = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def _hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


def _directives(policy: str) -> dict[str, list[str]]:
    parts = (item.split() for item in policy.split(";") if item.strip())
    return {words[0]: words[1:] for words in parts}


async def test_the_docs_page_loads_nothing_from_elsewhere(world: World) -> None:
    docs = await world.client.get("/docs")
    assert docs.status_code == 200
    assert EXTERNAL.search(docs.text) is None, EXTERNAL.search(docs.text)
    assets = ASSET.findall(docs.text)
    assert {a.rsplit("/", 1)[-1] for a in assets} == {
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "favicon-32x32.png",
    }
    for asset in assets:
        assert asset.startswith("/static/swagger-ui/"), asset
        served = await world.client.get(asset)
        assert served.status_code == 200 and served.content, asset
    bundle = await world.client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in bundle.text
    assert "javascript" in bundle.headers["content-type"]
    # The vendored files are the ones package-lock.json pins.
    lock = json.loads((ROOT / "package-lock.json").read_text())
    version = json.loads((ROOT / "app/web/static/swagger-ui/VERSION.json").read_text())
    assert version["version"] == lock["packages"]["node_modules/swagger-ui-dist"]["version"]
    # The page asks for the OpenAPI document on this origin.
    assert "url: '/openapi.json'" in docs.text
    assert (await world.client.get("/openapi.json")).status_code == 200


async def test_the_docs_run_under_the_strict_policy_with_only_their_own_script(
    world: World,
) -> None:
    for path in ("/docs", "/docs/oauth2-redirect"):
        page = await world.client.get(path)
        assert page.status_code == 200
        policy = page.headers["content-security-policy"]
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert "http" not in policy and "*" not in policy
        directives = _directives(policy)
        assert directives["default-src"] == ["'self'"]
        assert directives["style-src"] == ["'self'"]
        assert directives["frame-ancestors"] == ["'none'"]
        scripts = INLINE.findall(page.text)
        assert scripts, path
        assert directives["script-src"] == ["'self'", *(_hash(s) for s in scripts)], path
    # Elsewhere no inline script at all, and no second docs viewer fetched from a CDN.
    other = await world.client.get("/healthz")
    assert _directives(other.headers["content-security-policy"])["script-src"] == ["'self'"]
    assert (await world.client.get("/redoc")).status_code == 404
