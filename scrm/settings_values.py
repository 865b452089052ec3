"""Values the launcher needs without importing Django settings (which would start services)."""

QUEUE_NAMES = ["default", "inbox", "sync", "dispatch", "imports", "reports"]


def queue_names() -> list[str]:
    return list(QUEUE_NAMES)
