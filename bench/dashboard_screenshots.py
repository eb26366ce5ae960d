"""Screenshots of every dashboard page in headless Chromium; one of them becomes docs/dashboard.png.

Usage:
    .venv/bin/python bench/dashboard_screenshots.py [--artifacts seqlens-demo] [--output DIR]
        [--readme-page recommendations] [--readme-image docs/dashboard.png]

Without `--artifacts` (or when the folder does not exist) it uses the small fixture artifacts
the tests write, so it runs anywhere Chromium is installed (`make browser-deps`).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from tests.dashboard_browser_harness import (  # noqa: E402
    PAGES,
    chromium,
    error_texts,
    full_page_screenshot,
    streamlit_server,
    wait_until_rendered,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, default=None)
    parser.add_argument(
        "--output", type=Path, default=Path(tempfile.gettempdir()) / "seqlens-screenshots"
    )
    parser.add_argument("--readme-page", default="recommendations", choices=list(PAGES))
    parser.add_argument(
        "--readme-image", type=Path, default=PROJECT_ROOT / "docs" / "dashboard.png"
    )
    parser.add_argument("--width", type=int, default=1400)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="seqlens-shots-"))
    root = args.artifacts
    if root is None or not root.is_dir():
        from tests.dashboard_fixtures import write_data_artifacts

        root = write_data_artifacts(work / "artifacts")
        print(f"using fixture artifacts at {root}")
    args.output.mkdir(parents=True, exist_ok=True)
    failures = 0
    with (
        # as given: a relative root (`seqlens-demo`) shows as such in the sidebar's box
        streamlit_server(root, work / "streamlit.log") as url,
        chromium(work / "profile", width=args.width) as driver,
    ):
        for page, (url_path, title) in PAGES.items():
            driver.set_window_size(args.width, 1000)
            driver.get(f"{url}/{url_path}")
            wait_until_rendered(driver, title)
            errors = error_texts(driver)
            failures += bool(errors)
            path = args.output / f"{page}.png"
            full_page_screenshot(driver, path)
            print(f"{title}: {path}" + (f"  ERRORS: {errors}" if errors else ""))
            if page == args.readme_page:
                args.readme_image.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, args.readme_image)
                print(f"README image: {args.readme_image}")
    shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
