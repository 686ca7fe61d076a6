"""Per-format readers: bytes of one kind of file → a ParsedDocument, refusing bad files with a UserError.

index/ingest.py detects the kind and dispatches here; each module reads one format.
"""
