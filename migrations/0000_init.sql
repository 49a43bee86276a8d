CREATE TABLE "api_scopes" (
	"api_client_id" text NOT NULL,
	"tenant_id" uuid NOT NULL,
	"name" text NOT NULL,
	"description" text NOT NULL,
	"sensitivity" text NOT NULL,
	CONSTRAINT "api_scopes_api_client_id_name_pk" PRIMARY KEY("api_client_id","name"),
	CONSTRAINT "api_scopes_sensitivity_known" CHECK ("api_scopes"."sensitivity" in ('read', 'write', 'admin'))
);
--> statement-breakpoint
CREATE TABLE "apis" (
	"client_id" text PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"audience" text NOT NULL,
	CONSTRAINT "apis_audience_unique" UNIQUE("audience")
);
--> statement-breakpoint
CREATE TABLE "client_assertion_jtis" (
	"client_id" text NOT NULL,
	"jti" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "client_assertion_jtis_client_id_jti_pk" PRIMARY KEY("client_id","jti")
);
--> statement-breakpoint
CREATE TABLE "clients" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"name" text NOT NULL,
	"jwks" jsonb,
	"jwks_uri" text,
	"status" text DEFAULT 'active' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "clients_one_key_source" CHECK (("clients"."jwks" is null) <> ("clients"."jwks_uri" is null)),
	CONSTRAINT "clients_kind_known" CHECK ("clients"."kind" in ('agent', 'api')),
	CONSTRAINT "clients_status_known" CHECK ("clients"."status" in ('active', 'disabled'))
);
--> statement-breakpoint
CREATE TABLE "invites" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"token_hash" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "invites_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "signing_keys" (
	"kid" text PRIMARY KEY NOT NULL,
	"alg" text NOT NULL,
	"status" text NOT NULL,
	"public_jwk" jsonb NOT NULL,
	"private_jwe" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"activated_at" timestamp with time zone,
	"retired_at" timestamp with time zone,
	"publish_until" timestamp with time zone,
	CONSTRAINT "signing_keys_status_known" CHECK ("signing_keys"."status" in ('next', 'current', 'retired')),
	CONSTRAINT "signing_keys_private_only_live" CHECK ("signing_keys"."status" <> 'retired' or "signing_keys"."private_jwe" is null)
);
--> statement-breakpoint
CREATE TABLE "tenants" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"slug" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "tenants_slug_unique" UNIQUE("slug")
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"email" text NOT NULL,
	"status" text DEFAULT 'invited' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "users_status_known" CHECK ("users"."status" in ('invited', 'active', 'disabled'))
);
--> statement-breakpoint
ALTER TABLE "api_scopes" ADD CONSTRAINT "api_scopes_api_client_id_apis_client_id_fk" FOREIGN KEY ("api_client_id") REFERENCES "public"."apis"("client_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_scopes" ADD CONSTRAINT "api_scopes_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "apis" ADD CONSTRAINT "apis_client_id_clients_id_fk" FOREIGN KEY ("client_id") REFERENCES "public"."clients"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "apis" ADD CONSTRAINT "apis_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "clients" ADD CONSTRAINT "clients_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "invites" ADD CONSTRAINT "invites_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "invites" ADD CONSTRAINT "invites_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "client_assertion_jtis_expiry_idx" ON "client_assertion_jtis" USING btree ("expires_at");--> statement-breakpoint
CREATE UNIQUE INDEX "clients_tenant_kind_name_uq" ON "clients" USING btree ("tenant_id","kind","name");--> statement-breakpoint
CREATE INDEX "invites_user_idx" ON "invites" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "signing_keys_one_current" ON "signing_keys" USING btree ("status") WHERE "signing_keys"."status" = 'current';--> statement-breakpoint
CREATE UNIQUE INDEX "signing_keys_one_next" ON "signing_keys" USING btree ("status") WHERE "signing_keys"."status" = 'next';--> statement-breakpoint
CREATE UNIQUE INDEX "users_tenant_email_uq" ON "users" USING btree ("tenant_id","email");