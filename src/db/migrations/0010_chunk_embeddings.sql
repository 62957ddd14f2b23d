-- Dense vectors of search passages, only where pgvector is installed (always on the embedded database;
-- optional on a PostgreSQL server). The dimension depends on the configured model, so vectors are stored
-- untyped with their dimension beside them; the server creates an HNSW index per dimension in use.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') THEN
    CREATE TABLE IF NOT EXISTS chunk_embeddings (
      chunk_id uuid PRIMARY KEY,
      org_id uuid NOT NULL,
      entry_id uuid NOT NULL,
      model text NOT NULL,
      dims integer NOT NULL,
      embedding vector NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX IF NOT EXISTS chunk_embeddings_org_entry_idx ON chunk_embeddings (org_id, entry_id);
  END IF;
END
$$;
