"""The HTTP service (``imr-rules serve``, FastAPI + uvicorn; needs ``pip install 'imr-rules[service]'``).

durable_rules is not thread-safe, so requests are evaluated in a pool of worker processes, each holding
the knowledge base built once (``service.workers``); the web app (``service.app``) only parses, bounds
and routes. See ``docs/service.md``.
"""
