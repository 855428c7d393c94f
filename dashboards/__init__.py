"""The managers' dashboard: a Dash app over the lake, one module per page (``dashboards/pages``).

    from dashboards.app import create_app, serve
    serve(create_app("callcost-demo/lake", "USD"))
"""
