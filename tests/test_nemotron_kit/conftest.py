"""Leave kit-artifacts' process-wide hook state as found: the facade tests save and load
artifacts outside any run, which records `used` inputs and caches the git state of the
working directory; later test packages in the same process must not inherit either."""
from __future__ import annotations

from collections.abc import Iterator

import pytest


def _reset() -> None:
    from kit_artifacts import hooks

    hooks.set_producer_provider(None)  # also clears the used-inputs log
    # The cached git state of the cwd (looked up by name: kit-artifacts may move it).
    clear = getattr(getattr(hooks, "local_git_state", None), "cache_clear", None)
    if clear is not None:
        clear()


@pytest.fixture(autouse=True)
def _fresh_artifact_hooks() -> Iterator[None]:
    _reset()
    yield
    _reset()
