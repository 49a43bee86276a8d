/**
 * The raw limit: what one Node process does when a mint is nothing but its crypto, jose
 * verifying one EdDSA client assertion and signing one EdDSA access token, about 32 at a
 * time. bench/http.ts pins it to the broker's core, so the two are compared like for like.
 *
 * Reads BENCH_RAW (JSON: seconds, inFlight); prints one line of JSON: { opsPerSecond }.
 */
import { generateKeyPair, jwtVerify, SignJWT } from 'jose';

const { seconds, inFlight } = JSON.parse(process.env.BENCH_RAW ?? '{}') as {
  seconds: number;
  inFlight: number;
};

const agent = await generateKeyPair('EdDSA');
const broker = await generateKeyPair('EdDSA');
const now = Math.floor(Date.now() / 1000);
const assertions = await Promise.all(
  Array.from({ length: 1000 }, (_, i) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA', kid: 'agent' })
      .setIssuer('agent')
      .setSubject('agent')
      .setAudience('http://localhost:8787')
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .setJti(`raw-${i}`)
      .sign(agent.privateKey),
  ),
);

let n = 0;
async function op(): Promise<void> {
  const assertion = assertions[n++ % assertions.length] ?? '';
  const { payload } = await jwtVerify(assertion, agent.publicKey, {
    algorithms: ['EdDSA'],
    audience: 'http://localhost:8787',
  });
  await new SignJWT({ scope: 'repo:read', client_id: payload.iss, act: { sub: payload.sub } })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: 'broker' })
    .setIssuer('http://localhost:8787')
    .setSubject('person')
    .setAudience('https://repos.example/')
    .setIssuedAt()
    .setExpirationTime('5m')
    .setJti(crypto.randomUUID())
    .sign(broker.privateKey);
}

async function measure(ms: number): Promise<number> {
  const end = performance.now() + ms;
  let done = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < end) {
        await op();
        done += 1;
      }
    }),
  );
  return done / (ms / 1000);
}

await measure(1000); // warm-up: JIT, key imports
console.log(JSON.stringify({ opsPerSecond: await measure(seconds * 1000) }));
