"""The operation room: a multi-user FastAPI application over the store (``kaitiaki serve``).

Nothing in the pipeline imports this package; it calls the stages, like ``cli/`` does.
"""
