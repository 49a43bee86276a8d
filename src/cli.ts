/**
 * The operator CLI: `npx mandate <command> [--json]`. With --json, one JSON
 * object on stdout; errors go to stderr (as JSON with --json) and exit non-zero:
 * 2 for a usage mistake, 1 when the command was refused or failed, or when a
 * verification it ran came out `ok: false`.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError, loadConfig } from './config.ts';
import { parseCommandLine, usage, UsageError, type ParsedCommand } from './operator/cli-args.ts';
import { execute, OperatorFailure } from './operator/transport.ts';
import { formatResult } from './operator/format.ts';

async function readJsonFiles(parsed: ParsedCommand): Promise<Record<string, unknown>> {
  const args = { ...parsed.args };
  for (const [key, path] of Object.entries(parsed.files)) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read --${key} file ${path}: ${(err as Error).message}`);
    }
    try {
      args[key] = JSON.parse(text);
    } catch (err) {
      throw new UsageError(`--${key} file ${path} is not JSON: ${(err as Error).message}`);
    }
  }
  return args;
}

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const fail = (code: string, message: string, exit: number) => {
    process.stderr.write(
      json ? `${JSON.stringify({ error: code, message })}\n` : `mandate: ${message}\n`,
    );
    return exit;
  };
  try {
    const parsed = parseCommandLine(argv);
    if ('help' in parsed) {
      process.stdout.write(`${usage()}\n`);
      return 0;
    }
    const args = await readJsonFiles(parsed);
    const config = loadConfig(process.env);
    const { result } = await execute(config, parsed.command, args, (m) =>
      process.stderr.write(`${m}\n`),
    );
    process.stdout.write(
      json ? `${JSON.stringify(result)}\n` : `${formatResult(parsed.command, result)}\n`,
    );
    // A check that ran but found a problem (e.g. `grant verify`) is a failure for scripts.
    return result.ok === false ? 1 : 0;
  } catch (err) {
    if (err instanceof UsageError) return fail(err.code, err.message, 2);
    if (err instanceof ConfigError) return fail(err.code, err.message, 2);
    if (err instanceof OperatorFailure) return fail(err.code, err.message, 1);
    // Anything else (database unreachable, disk full) is reported without a stack trace.
    const message = err instanceof Error ? err.message : String(err);
    return fail('ERR_INTERNAL', message, 1);
  }
}

process.exitCode = await main(process.argv.slice(2));
