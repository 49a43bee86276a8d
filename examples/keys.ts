/**
 * Makes a key pair for an agent or an API: `<name>.key.json` (the private JWK, mode
 * 0600 — keep it secret) and `<name>.jwks.json` (the public JWK Set to register with
 * `mandate agent add --jwks` or `mandate api add --jwks`).
 *
 *   npx tsx examples/keys.ts agent     # agent.key.json, agent.jwks.json
 */
import { writeFile } from 'node:fs/promises';
import { generateAgentKey, publicJwks, saveKeyFile } from 'mandate/agent';

const name = process.argv[2];
if (!name || !/^[\w.-]+$/.test(name)) {
  console.error('usage: npx tsx examples/keys.ts <name>');
  process.exit(2);
}
const key = await generateAgentKey();
await saveKeyFile(`${name}.key.json`, key);
await writeFile(`${name}.jwks.json`, `${JSON.stringify(publicJwks(key), null, 2)}\n`);
console.log(
  `wrote ${name}.key.json (private, mode 0600) and ${name}.jwks.json (public, kid ${key.kid})`,
);
