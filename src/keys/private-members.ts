/**
 * JWK members only a private or symmetric key has (RFC 7517 §4, RFC 7518 §6.2.2,
 * §6.3.2, §6.4): a key carrying any of them is never a public key. Portable, so the
 * registry, the broker's DPoP checks and both SDKs share the one list.
 */
export const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
