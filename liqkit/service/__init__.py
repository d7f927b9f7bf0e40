"""``liqkit serve``: one engine, its journal and a control API on 127.0.0.1 (token required).

``host`` builds and owns the engine (state directory lock, token, crash cleanup); ``api`` is the
FastAPI application over an ``EngineHandle``; ``serve`` runs both under uvicorn.
"""
