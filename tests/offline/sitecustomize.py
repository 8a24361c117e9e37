"""Loaded by every Python subprocess the tests start: the same loopback-only guard."""

import os

if os.environ.get("QA_OFFLINE_GUARD_LOG"):
    import qa_offline_guard

    qa_offline_guard.install()
