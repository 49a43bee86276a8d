CREATE TABLE "revocation_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"audience" text NOT NULL,
	"kind" text NOT NULL,
	"subject" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "revocation_events_kind_known" CHECK ("revocation_events"."kind" in ('token', 'grant'))
);
--> statement-breakpoint
CREATE TABLE "status_lists" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"number" integer NOT NULL,
	"capacity" integer NOT NULL,
	"allocated" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "status_lists_capacity_positive" CHECK ("status_lists"."capacity" > 0)
);
--> statement-breakpoint
ALTER TABLE "apis" ADD COLUMN "overrun_threshold" integer;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "overrun_threshold" integer;--> statement-breakpoint
ALTER TABLE "issued_tokens" ADD COLUMN "status_list_id" uuid;--> statement-breakpoint
ALTER TABLE "issued_tokens" ADD COLUMN "status_idx" integer;--> statement-breakpoint
ALTER TABLE "revocation_events" ADD CONSTRAINT "revocation_events_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "status_lists" ADD CONSTRAINT "status_lists_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "revocation_events_stream_idx" ON "revocation_events" USING btree ("tenant_id","audience","id");--> statement-breakpoint
CREATE INDEX "revocation_events_created_idx" ON "revocation_events" USING btree ("created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "status_lists_tenant_number_uq" ON "status_lists" USING btree ("tenant_id","number");--> statement-breakpoint
ALTER TABLE "issued_tokens" ADD CONSTRAINT "issued_tokens_status_list_id_status_lists_id_fk" FOREIGN KEY ("status_list_id") REFERENCES "public"."status_lists"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "issued_tokens_status_uq" ON "issued_tokens" USING btree ("status_list_id","status_idx");--> statement-breakpoint
CREATE INDEX "issued_tokens_revoked_status_idx" ON "issued_tokens" USING btree ("status_list_id","status_idx") WHERE "issued_tokens"."revoked_at" is not null;--> statement-breakpoint
ALTER TABLE "issued_tokens" ADD CONSTRAINT "issued_tokens_status_complete" CHECK (("issued_tokens"."status_list_id" is null) = ("issued_tokens"."status_idx" is null));