/**
 * Command-line grammar of the operator CLI: which words name a command, which
 * flags it takes, and which flags name JSON files whose contents become
 * arguments. Pure, so tests check it without spawning anything.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { CommandName } from './commands.ts';

interface Spec {
  /** Positional parameters after the command words, mapped to argument names. */
  positionals?: string[];
  /** Flags taking a value, mapped to argument names. */
  flags?: Record<string, string>;
  /** Flags naming a JSON file whose parsed content becomes the argument. */
  files?: Record<string, string>;
  /**
   * Flags naming a file the command itself reads (not JSON), resolved against the
   * CLI's working directory so that a running broker reading it finds the same file.
   */
  paths?: string[];
  /** Flags or positionals that must be present. */
  required?: string[];
  /** Groups of flags of which exactly one must be present. */
  oneOf?: string[][];
  usage: string;
}

const tenant = { tenant: 'tenant' };

export const cliSpecs: Record<CommandName, Spec> = {
  'tenant create': {
    positionals: ['slug'],
    flags: { 'overrun-threshold': 'overrun_threshold' },
    required: ['slug'],
    usage: 'tenant create <slug> [--overrun-threshold N]',
  },
  'tenant list': { usage: 'tenant list' },
  'user invite': {
    flags: { ...tenant, email: 'email' },
    required: ['tenant', 'email'],
    usage: 'user invite --tenant T --email E',
  },
  'agent add': {
    flags: { ...tenant, name: 'name', 'jwks-uri': 'jwks_uri' },
    files: { jwks: 'jwks' },
    required: ['tenant', 'name'],
    oneOf: [['jwks', 'jwks-uri']],
    usage: 'agent add --tenant T --name N (--jwks FILE | --jwks-uri URL)',
  },
  'agent list': { flags: tenant, required: ['tenant'], usage: 'agent list --tenant T' },
  'agent disable': {
    flags: { ...tenant, 'client-id': 'client_id', name: 'name' },
    required: ['tenant'],
    oneOf: [['client-id', 'name']],
    usage: 'agent disable --tenant T (--client-id ID | --name N)',
  },
  'api add': {
    flags: {
      ...tenant,
      audience: 'audience',
      name: 'name',
      'jwks-uri': 'jwks_uri',
      'overrun-threshold': 'overrun_threshold',
    },
    files: { scopes: 'scopes', jwks: 'jwks' },
    required: ['tenant', 'audience', 'scopes'],
    oneOf: [['jwks', 'jwks-uri']],
    usage:
      'api add --tenant T --audience URI --scopes FILE (--jwks FILE | --jwks-uri URL) [--name N] [--overrun-threshold N]',
  },
  'api list': { flags: tenant, required: ['tenant'], usage: 'api list --tenant T' },
  'api disable': {
    flags: { ...tenant, 'client-id': 'client_id', audience: 'audience' },
    required: ['tenant'],
    oneOf: [['client-id', 'audience']],
    usage: 'api disable --tenant T (--client-id ID | --audience URI)',
  },
  'grant verify': {
    flags: { ...tenant, grant: 'grant_id' },
    required: ['tenant', 'grant'],
    usage: 'grant verify --tenant T --grant ID',
  },
  'keys rotate': { usage: 'keys rotate' },
  'keys list': { usage: 'keys list' },
  'audit verify': {
    flags: tenant,
    files: { jwks: 'jwks' },
    usage: 'audit verify [--tenant T] [--jwks FILE]',
  },
  'audit export': {
    flags: { ...tenant, out: 'out' },
    // Written by whichever process runs the command (a running broker, perhaps).
    paths: ['out'],
    usage: 'audit export [--tenant T] [--out FILE]',
  },
  'audit summary': {
    flags: { ...tenant, agent: 'agent', window: 'window', buckets: 'buckets' },
    required: ['tenant'],
    usage: 'audit summary --tenant T [--agent CLIENT_ID] [--window 24h|7d|90m] [--buckets N]',
  },
  'policy push': {
    flags: { ...tenant, file: 'file' },
    paths: ['file'],
    required: ['tenant', 'file'],
    usage: 'policy push --tenant T --file FILE.cedar',
  },
  'policy list': { flags: tenant, required: ['tenant'], usage: 'policy list --tenant T' },
  'audit replay': {
    positionals: ['entry_id'],
    flags: tenant,
    required: ['entry_id'],
    usage: 'audit replay <entry id> [--tenant T]',
  },
};

export class UsageError extends Error {
  readonly code = 'ERR_USAGE';
}

export interface ParsedCommand {
  command: CommandName;
  /** Arguments ready for runCommand, except `files` still to be read. */
  args: Record<string, unknown>;
  /** Argument name → path of the JSON file to read into it. */
  files: Record<string, string>;
  json: boolean;
}

export type Parsed = ParsedCommand | { help: true; json: boolean };

export function usage(): string {
  const lines = Object.values(cliSpecs).map((s) => `  mandate ${s.usage} [--json]`);
  return [
    'usage:',
    ...lines,
    '',
    'Uses DATABASE_URL when set; otherwise the embedded database in MANDATE_DATA_DIR (./.data),',
    'through the running broker when there is one. --json prints one JSON object on stdout.',
  ].join('\n');
}

export function parseCommandLine(argv: string[]): Parsed {
  const json = argv.includes('--json');
  if (argv.includes('--help') || argv.includes('-h')) return { help: true, json };
  // The command is the first two words, e.g. `agent add`; `--json` may come anywhere.
  const rest = argv.filter((a) => a !== '--json');
  if (rest.length === 0) return { help: true, json };
  const name = rest.slice(0, 2).join(' ');
  const spec = (cliSpecs as Record<string, Spec | undefined>)[name];
  if (!spec) {
    throw new UsageError(
      `unknown command "${name}"; commands: ${Object.keys(cliSpecs).join(', ')}`,
    );
  }
  const command = name as CommandName;
  const flagNames = [...Object.keys(spec.flags ?? {}), ...Object.keys(spec.files ?? {})];
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: rest.slice(2),
      allowPositionals: true,
      strict: true,
      options: {
        json: { type: 'boolean' },
        ...Object.fromEntries(flagNames.map((f) => [f, { type: 'string' as const }])),
      },
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nusage: mandate ${spec.usage}`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const expected = spec.positionals ?? [];
  if (parsed.positionals.length > expected.length) {
    throw new UsageError(
      `unexpected argument "${parsed.positionals[expected.length]}"\nusage: mandate ${spec.usage}`,
    );
  }
  const given = (key: string) =>
    expected.includes(key) ? parsed.positionals[expected.indexOf(key)] : values[key];
  for (const key of spec.required ?? []) {
    if (given(key) === undefined) {
      const shown = expected.includes(key) ? `<${key}>` : `--${key}`;
      throw new UsageError(`missing ${shown}\nusage: mandate ${spec.usage}`);
    }
  }
  for (const group of spec.oneOf ?? []) {
    if (group.filter((f) => values[f] !== undefined).length !== 1) {
      throw new UsageError(
        `give exactly one of ${group.map((f) => `--${f}`).join(', ')}\nusage: mandate ${spec.usage}`,
      );
    }
  }

  const args: Record<string, unknown> = {};
  expected.forEach((key, i) => {
    if (parsed.positionals[i] !== undefined) args[key] = parsed.positionals[i];
  });
  for (const [flag, key] of Object.entries(spec.flags ?? {})) {
    if (values[flag] !== undefined) args[key] = values[flag];
  }
  for (const flag of spec.paths ?? []) {
    const key = spec.flags?.[flag];
    const path = key === undefined ? undefined : args[key];
    if (key !== undefined && typeof path === 'string') args[key] = resolve(path);
  }
  const files: Record<string, string> = {};
  for (const [flag, key] of Object.entries(spec.files ?? {})) {
    const path = values[flag];
    if (typeof path === 'string') files[key] = path;
  }
  return { command, args, files, json };
}
