"""Where a map's sources land as repository paths, for the bundlers' usual ways of naming them."""

from __future__ import annotations

import pytest

from logcenter.sourcemaps.resolve import source_path


@pytest.mark.parametrize(
    ("source", "map_url", "expected"),
    [
        ("../src/components/UserList.tsx", "~/dist/main.js.map", "src/components/UserList.tsx"),  # esbuild
        ("../../src/App.tsx", "~/assets/js/index-3f2a.js.map", "src/App.tsx"),  # vite, nested assets
        ("../src/App.tsx", "~/index.js.map", "src/App.tsx"),  # above the served root
        ("webpack://shop/./src/App.tsx", "~/static/js/main.js.map", "src/App.tsx"),  # webpack 5
        ("webpack:///./src/App.tsx", "~/static/js/main.js.map", "src/App.tsx"),  # webpack 4
        ("webpack:///src/App.tsx", "~/main.js.map", "src/App.tsx"),
        ("https://cdn.example/shop/src/App.tsx", "~/main.js.map", "shop/src/App.tsx"),
        (
            "../node_modules/react-dom/cjs/react-dom.js",
            "~/dist/main.js.map",
            "node_modules/react-dom/cjs/react-dom.js",
        ),
        ("src/App.tsx", "https://shop.example/static/main.js.map", "static/src/App.tsx"),
    ],
)
def test_sources_become_repository_paths(source, map_url, expected):
    assert source_path(source, map_url) == expected
