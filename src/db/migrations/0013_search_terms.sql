CREATE TABLE "search_stats" (
	"org_id" uuid PRIMARY KEY NOT NULL,
	"chunks" integer DEFAULT 0 NOT NULL,
	"terms" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "search_terms" (
	"org_id" uuid NOT NULL,
	"term" text NOT NULL,
	"df" integer NOT NULL,
	CONSTRAINT "search_terms_org_id_term_pk" PRIMARY KEY("org_id","term")
);
--> statement-breakpoint
-- Statistics of passages indexed before this table existed.
INSERT INTO "search_stats" ("org_id", "chunks", "terms")
SELECT "org_id", count(*), coalesce(sum("term_count"), 0) FROM "search_chunks" GROUP BY "org_id";
--> statement-breakpoint
INSERT INTO "search_terms" ("org_id", "term", "df")
SELECT c."org_id", t.term, count(DISTINCT c."id")
  FROM "search_chunks" c, unnest(string_to_array(c."terms", ' ')) AS t(term)
 WHERE t.term <> ''
 GROUP BY c."org_id", t.term;
