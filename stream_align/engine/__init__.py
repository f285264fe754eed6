"""The pure incremental alignment engine (no Kafka): see ``engine.AlignmentEngine``.

Nothing is re-exported here on purpose: importing the settings (as the CLI does for every
command) must not pull in torch and FAISS.
"""
