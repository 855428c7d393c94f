"""Placeholder."""
PATH = "/carriers"
NAME = "Carriers"
SLUG = "carriers"
EXTRA_KEYS: tuple[str, ...] = ()


def data(ctx, view, scope=None):
    from dashboards.pages import PageData
    return PageData()


def render(ctx, view, data):
    return []
