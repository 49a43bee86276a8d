/**
 * Where Cedar's authorisation calls run. The engine builds the calls of a decision
 * and hands them to an Authorizer with the policy set and its key (the bundle's
 * digest); the answers come back in the calls' order.
 *
 * - {@link InThreadAuthorizer}: on the caller's thread, sets kept parsed in
 *   prepared.ts. Every runtime has it (Workers, the CLI, tests).
 * - decision-workers.ts: on Node worker threads, so that evaluation runs beside the
 *   broker's event loop, which is what limits its throughput (bench/mint.ts).
 */
import type { AuthorizationAnswer, CedarApi } from './cedar.ts';
import { PreparedSets } from './prepared.ts';
import { CEDAR_SCHEMA } from './schema.ts';

/** One Cedar request as the engine builds it (request.ts' CedarQuery without its labels). */
export type CedarCall = Omit<
  Parameters<CedarApi['statefulIsAuthorized']>[0],
  'preparsedPolicySetId' | 'preparsedSchemaName' | 'validateRequest'
>;

export interface Authorizer {
  /** Answers for `calls` under `policies`, which are parsed once per `key`. */
  authorize(
    key: string,
    policies: Record<string, string>,
    calls: CedarCall[],
  ): Promise<AuthorizationAnswer[]>;
}

const SCHEMA_SLOT = 'mandate-schema';

export class InThreadAuthorizer implements Authorizer {
  readonly #prepared: PreparedSets;

  constructor(
    private readonly cedar: CedarApi,
    capacity: number,
    /** Have Cedar check every request against the schema too (tests; costs about a third more). */
    private readonly validate = false,
  ) {
    this.#prepared = new PreparedSets(cedar, capacity);
    if (validate) cedar.preparseSchema(SCHEMA_SLOT, CEDAR_SCHEMA);
  }

  authorize(
    key: string,
    policies: Record<string, string>,
    calls: CedarCall[],
  ): Promise<AuthorizationAnswer[]> {
    try {
      // Synchronous from slot to answer, so no other decision can take the slot meanwhile.
      const slot = this.#prepared.ensure(key, policies);
      const answers: AuthorizationAnswer[] = [];
      for (const call of calls) {
        answers.push(
          this.cedar.statefulIsAuthorized({
            ...call,
            preparsedPolicySetId: slot,
            ...(this.validate
              ? { preparsedSchemaName: SCHEMA_SLOT, validateRequest: true }
              : { validateRequest: false }),
          }),
        );
      }
      return Promise.resolve(answers);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }
}
