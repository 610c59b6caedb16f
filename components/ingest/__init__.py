"""ingest: bring a VOC dataset in from an s3:// prefix or archive, or a local path, and fingerprint it."""
