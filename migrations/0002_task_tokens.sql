CREATE TABLE "dpop_proof_jtis" (
	"jkt" text NOT NULL,
	"jti" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "dpop_proof_jtis_jkt_jti_pk" PRIMARY KEY("jkt","jti")
);
--> statement-breakpoint
CREATE TABLE "overrun_attempts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"grant_id" uuid,
	"client_id" text NOT NULL,
	"jti" text,
	"source" text NOT NULL,
	"attempted" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "overrun_attempts_source_known" CHECK ("overrun_attempts"."source" in ('token_endpoint', 'api_report'))
);
--> statement-breakpoint
ALTER TABLE "grants" ADD COLUMN "dpop_jkt" text;--> statement-breakpoint
ALTER TABLE "issued_tokens" ADD COLUMN "kind" text DEFAULT 'access' NOT NULL;--> statement-breakpoint
ALTER TABLE "issued_tokens" ADD COLUMN "dpop_jkt" text;--> statement-breakpoint
ALTER TABLE "issued_tokens" ADD COLUMN "parent_jti" text;--> statement-breakpoint
ALTER TABLE "issued_tokens" ADD COLUMN "ancestors" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "issued_tokens" ADD COLUMN "depth" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "overrun_attempts" ADD CONSTRAINT "overrun_attempts_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "overrun_attempts" ADD CONSTRAINT "overrun_attempts_grant_id_grants_id_fk" FOREIGN KEY ("grant_id") REFERENCES "public"."grants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "overrun_attempts" ADD CONSTRAINT "overrun_attempts_client_id_clients_id_fk" FOREIGN KEY ("client_id") REFERENCES "public"."clients"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "dpop_proof_jtis_expiry_idx" ON "dpop_proof_jtis" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "overrun_attempts_grant_idx" ON "overrun_attempts" USING btree ("grant_id");--> statement-breakpoint
CREATE INDEX "issued_tokens_parent_idx" ON "issued_tokens" USING btree ("parent_jti");--> statement-breakpoint
ALTER TABLE "issued_tokens" ADD CONSTRAINT "issued_tokens_kind_known" CHECK ("issued_tokens"."kind" in ('access', 'vc'));