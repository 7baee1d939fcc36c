"""Archive-scale runs on Ray: ``regress`` and ``extract`` with ``--executor ray`` (``pip install 'imr-rules[ray]'``).

Workers are Ray actors that build the knowledge base (and, for ``extract``, the NLP pipeline) once and are
then sent files in chunks; results come back in input order and are the same as the local run's.
Plan and arithmetic for the 1.6M-letter archive: ``docs/scale.md``.
"""
