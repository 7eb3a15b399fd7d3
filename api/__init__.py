"""The REST service: translates HTTP to calls of ingest/, indexes/ and rag/."""
