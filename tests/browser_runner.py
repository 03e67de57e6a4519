"""Run a browser story in a process of its own, without eventlet.

The test process is monkey-patched by eventlet (tests/conftest.py), and playwright's sync API
then hangs at random on navigations (its asyncio loop and eventlet's hub fight over the same
greenlets). A browser test therefore writes its story as a plain function `story(page, base_url,
**kwargs)` and calls `run_story("tests.e2e.test_x:story", portal.base_url, ...)`: the story runs
here, in a fresh interpreter, on Debian's headless chromium; its assertion errors come back as
the test's failure message.

    python -m tests.browser_runner tests.e2e.test_auth_browser:recovery_story http://... '{}'
"""

import importlib
import json
import subprocess
import sys
import traceback

from services.common.config import PROJECT_ROOT


def run_story(target, base_url, timeout=240, viewport=None, **kwargs):
    """Run `module:function` with a fresh page (of `viewport` {width, height}, default a phone);
    returns what it printed (asserts it passed)."""
    arguments = [target, base_url, json.dumps(kwargs), json.dumps(viewport)]
    result = subprocess.run(  # noqa: S603  our own interpreter and module
        [sys.executable, "-m", "tests.browser_runner", *arguments],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, (
        f"browser story {target} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )
    return result.stdout


def main(target, base_url, kwargs_json, viewport_json="null"):
    from tests.helpers import chromium_page

    module_name, function_name = target.split(":")
    story = getattr(importlib.import_module(module_name), function_name)
    with chromium_page(viewport=json.loads(viewport_json)) as page:
        try:
            story(page, base_url, **json.loads(kwargs_json))
        except Exception:
            traceback.print_exc()
            print("page at failure:", page.url, file=sys.stderr)
            print(page.content()[:3000], file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
