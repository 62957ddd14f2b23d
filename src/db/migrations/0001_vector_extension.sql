-- pgvector is optional on a PostgreSQL server: install it where the server offers it and the
-- connecting role may create it; otherwise carry on, and the server reports vector search as
-- unavailable. Later migrations that need the `vector` type must be guarded the same way.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
    BEGIN
      CREATE EXTENSION IF NOT EXISTS vector;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'pgvector is available but this role may not create it; vector search stays off';
    END;
  END IF;
END
$$;
