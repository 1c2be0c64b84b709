"""Portable bundles: a collection as one tar archive (export.py) and back, without re-embedding (load.py);
archive.py holds the format both share."""
