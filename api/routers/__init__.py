"""One router per resource; each only translates HTTP to calls of ingest/, indexes/ and rag/."""
