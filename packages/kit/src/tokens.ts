import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign, verify, type KeyObject } from "node:crypto";
import { unauthenticated } from "./errors.js";
import { ExpiringCache } from "./cache.js";

/**
 * Access tokens are compact JWS (JWT) signed with Ed25519 ("EdDSA"). The users service signs with
 * the private key; everything else holds only public keys. Verification accepts exactly one
 * algorithm, so a token cannot choose how it is checked ("alg": "none", HMAC confusion).
 */
export interface AccessClaims {
  /** The user id. */
  sub: string;
  roles: string[];
  iss: string;
  aud: string;
  iat: number;
  exp: number;
  jti: string;
  /**
   * The session the token was issued for (login, refresh). A verifier that hears of a session's
   * revocation refuses its tokens; tokens without one cannot be revoked and only expire.
   */
  sid?: string;
}

/** Longest session id a token may carry: ids are 26-character ULIDs, so anything longer is not one. */
const MAX_SESSION_ID = 64;

export interface TokenSettings {
  issuer: string;
  audience: string;
}

/** The issuer and audience of the mesh's tokens unless AUTH_ISSUER and AUTH_AUDIENCE say otherwise. */
export const DEFAULT_TOKEN_SETTINGS: Readonly<TokenSettings> = { issuer: "chirp", audience: "chirp" };

const b64url = (data: Buffer | string) => Buffer.from(data).toString("base64url");

/** Parses a PKCS#8 PEM Ed25519 private key, refusing any other kind. */
export function parseSigningKey(pem: string): KeyObject {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== "ed25519") throw new Error(`signing key must be Ed25519, got ${key.asymmetricKeyType}`);
  return key;
}

export function parseVerificationKey(pem: string): KeyObject {
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== "ed25519") throw new Error(`verification key must be Ed25519, got ${key.asymmetricKeyType}`);
  return key;
}

/** A fresh key pair in PEM, for development and tests; production keys come from a secret. */
export function generateSigningKeyPair(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return {
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

/** A stable id for a public key, carried in the token header so verifiers can rotate keys. */
export function keyId(publicKey: KeyObject): string {
  return createHash("sha256").update(publicKey.export({ type: "spki", format: "der" })).digest("base64url").slice(0, 16);
}

export class TokenSigner {
  private readonly kid: string;

  constructor(
    private readonly privateKey: KeyObject,
    private readonly settings: TokenSettings & { ttlSeconds: number },
  ) {
    this.kid = keyId(createPublicKey(privateKey));
  }

  get publicKey(): KeyObject {
    return createPublicKey(this.privateKey);
  }

  sign(subject: string, roles: string[] = [], now = Date.now(), sessionId?: string): { token: string; expiresAt: Date } {
    const iat = Math.floor(now / 1000);
    const claims: AccessClaims = {
      sub: subject,
      roles,
      iss: this.settings.issuer,
      aud: this.settings.audience,
      iat,
      exp: iat + this.settings.ttlSeconds,
      jti: randomUUID(),
      ...(sessionId !== undefined && { sid: sessionId }),
    };
    const signingInput = `${b64url(JSON.stringify({ alg: "EdDSA", typ: "JWT", kid: this.kid }))}.${b64url(JSON.stringify(claims))}`;
    const signature = sign(null, Buffer.from(signingInput), this.privateKey);
    return { token: `${signingInput}.${b64url(signature)}`, expiresAt: new Date(claims.exp * 1000) };
  }
}

/** How many verified tokens a verifier remembers (about one per active client), and for how long. */
const REMEMBERED_TOKENS = 10_000;
const REMEMBER_FOR_MS = 15 * 60_000;

export class TokenVerifier {
  private readonly keys: Map<string, KeyObject>;
  /**
   * Tokens whose signature, issuer and audience already checked out, by the whole token string:
   * a client sends the same token with every request, and an Ed25519 verification costs more than
   * the rest of a small call. The times are checked on every use.
   */
  private readonly verified = new ExpiringCache<AccessClaims>(REMEMBER_FOR_MS, REMEMBERED_TOKENS);

  constructor(
    publicKeys: KeyObject[],
    private readonly settings: TokenSettings & { clockToleranceSeconds?: number },
  ) {
    this.keys = new Map(publicKeys.map((key) => [keyId(key), key]));
  }

  /** Returns the claims of a valid token; anything else is UNAUTHENTICATED with a reason. */
  verify(token: string, now = Date.now()): AccessClaims {
    let claims = this.verified.get(token);
    if (!claims) {
      claims = this.verifySigned(token);
      this.verified.set(token, claims);
    }
    const tolerance = this.settings.clockToleranceSeconds ?? 30;
    const seconds = Math.floor(now / 1000);
    if (claims.exp + tolerance <= seconds) throw unauthenticated("access token has expired");
    if (claims.iat - tolerance > seconds) throw unauthenticated("access token is not valid yet");
    return claims;
  }

  /** Everything about a token that does not change with time. */
  private verifySigned(token: string): AccessClaims {
    const parts = token.split(".");
    if (parts.length !== 3) throw unauthenticated("access token is malformed");
    const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
    const header = decodeJson(headerPart);
    if (header?.alg !== "EdDSA" || (header.typ !== undefined && header.typ !== "JWT")) {
      throw unauthenticated("access token uses an unsupported algorithm");
    }
    const key = typeof header.kid === "string" ? this.keys.get(header.kid) : undefined;
    if (!key) throw unauthenticated("access token was signed by an unknown key");
    const valid = verify(null, Buffer.from(`${headerPart}.${payloadPart}`), key, Buffer.from(signaturePart, "base64url"));
    if (!valid) throw unauthenticated("access token signature is invalid");

    const claims = decodeJson(payloadPart);
    if (!isAccessClaims(claims)) throw unauthenticated("access token claims are malformed");
    if (claims.iss !== this.settings.issuer) throw unauthenticated("access token has the wrong issuer");
    if (claims.aud !== this.settings.audience) throw unauthenticated("access token has the wrong audience");
    return claims;
  }
}

function decodeJson(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function isAccessClaims(value: Record<string, unknown> | undefined): value is Record<string, unknown> & AccessClaims {
  return (
    value !== undefined &&
    typeof value.sub === "string" &&
    value.sub !== "" &&
    Array.isArray(value.roles) &&
    value.roles.every((role) => typeof role === "string") &&
    typeof value.iss === "string" &&
    typeof value.aud === "string" &&
    Number.isInteger(value.iat) &&
    Number.isInteger(value.exp) &&
    typeof value.jti === "string" &&
    (value.sid === undefined || (typeof value.sid === "string" && value.sid !== "" && value.sid.length <= MAX_SESSION_ID))
  );
}

/** A verifier of the tokens signed with the private half of `publicKeyPem`, issued and meant as `settings` say. */
export function verifierFor(publicKeyPem: string, settings: TokenSettings = DEFAULT_TOKEN_SETTINGS): TokenVerifier {
  return new TokenVerifier([parseVerificationKey(publicKeyPem)], settings);
}
