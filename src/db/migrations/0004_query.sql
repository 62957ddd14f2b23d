CREATE TABLE "knowledge_gaps" (
	"id" uuid PRIMARY KEY NOT NULL,
	"org_id" uuid NOT NULL,
	"question" text NOT NULL,
	"normalized" text NOT NULL,
	"terms" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"language" text NOT NULL,
	"ask_count" integer DEFAULT 1 NOT NULL,
	"status" text DEFAULT 'open' NOT NULL,
	"first_asked_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_asked_at" timestamp with time zone DEFAULT now() NOT NULL,
	"resolved_entry_id" uuid,
	"resolved_by" uuid,
	"resolved_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "query_log" (
	"id" uuid PRIMARY KEY NOT NULL,
	"org_id" uuid NOT NULL,
	"user_id" uuid,
	"api_key_id" uuid,
	"question" text NOT NULL,
	"language" text NOT NULL,
	"answer" text NOT NULL,
	"answered" boolean NOT NULL,
	"confidence" real NOT NULL,
	"citations" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"gap_id" uuid,
	"mode" text NOT NULL,
	"latency_ms" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "knowledge_gaps_org_status_idx" ON "knowledge_gaps" USING btree ("org_id","status","last_asked_at");--> statement-breakpoint
CREATE INDEX "knowledge_gaps_org_norm_idx" ON "knowledge_gaps" USING btree ("org_id","normalized") WHERE status = 'open';--> statement-breakpoint
CREATE INDEX "query_log_org_user_idx" ON "query_log" USING btree ("org_id","user_id","created_at");--> statement-breakpoint
CREATE INDEX "query_log_org_created_idx" ON "query_log" USING btree ("org_id","created_at");