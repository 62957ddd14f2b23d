CREATE TABLE "org_sso" (
	"org_id" uuid PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"issuer" text,
	"client_id" text,
	"client_secret_sealed" text,
	"metadata_xml" text,
	"metadata_url" text,
	"updated_by" uuid,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
