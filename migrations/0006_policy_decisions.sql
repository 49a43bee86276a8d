ALTER TABLE "ciba_requests" ADD COLUMN "escalates_grant_id" uuid;--> statement-breakpoint
ALTER TABLE "ciba_requests" ADD COLUMN "escalation" jsonb;--> statement-breakpoint
ALTER TABLE "ciba_requests" ADD COLUMN "evidence" jsonb;--> statement-breakpoint
ALTER TABLE "ciba_requests" ADD CONSTRAINT "ciba_requests_escalates_grant_id_grants_id_fk" FOREIGN KEY ("escalates_grant_id") REFERENCES "public"."grants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "ciba_requests_escalation_idx" ON "ciba_requests" USING btree ("escalates_grant_id") WHERE "ciba_requests"."escalates_grant_id" is not null;--> statement-breakpoint
CREATE INDEX "issued_tokens_agent_time_idx" ON "issued_tokens" USING btree ("tenant_id","client_id","issued_at");--> statement-breakpoint
CREATE INDEX "issued_tokens_agent_audience_idx" ON "issued_tokens" USING btree ("tenant_id","client_id","audience");--> statement-breakpoint
CREATE INDEX "overrun_attempts_agent_time_idx" ON "overrun_attempts" USING btree ("tenant_id","client_id","created_at");--> statement-breakpoint
ALTER TABLE "ciba_requests" ADD CONSTRAINT "ciba_requests_escalation_complete" CHECK (("ciba_requests"."escalates_grant_id" is null) = ("ciba_requests"."escalation" is null));