import type { KafkaAclBinding } from '@ondijon/contracts';
import { aclKey } from '@ondijon/contracts';
import kafkajs, { type Admin } from 'kafkajs';

// kafkajs is CommonJS: read its enums off the default export (as provision.ts does).
const { AclResourceTypes, AclOperationTypes, AclPermissionTypes, ResourcePatternTypes } = kafkajs;

const RESOURCE = { TOPIC: AclResourceTypes.TOPIC, GROUP: AclResourceTypes.GROUP } as const;
const PATTERN = { LITERAL: ResourcePatternTypes.LITERAL, PREFIXED: ResourcePatternTypes.PREFIXED } as const;
const OPERATION = {
  READ: AclOperationTypes.READ,
  WRITE: AclOperationTypes.WRITE,
  DELETE: AclOperationTypes.DELETE,
} as const;

function nameOf<T extends Record<string, number | string>>(enumeration: T, value: number): string {
  return Object.entries(enumeration).find(([, v]) => v === value)?.[0] ?? String(value);
}

/** An ACL the cluster holds, in words (`DENY` and every operation included). */
export interface DescribedAcl {
  principal: string;
  host: string;
  resourceType: string;
  patternType: string;
  resourceName: string;
  operation: string;
  permission: string;
}

/** An ACL in scope that the access matrix does not give: reported, never removed by provisioning. */
export interface AclDrift {
  /** `principal operation type:pattern:name` (permission and host when not ALLOW on `*`). */
  acl: string;
  /** Why it is drift. */
  reason: string;
}

/** Outcome of `provisionAcls`. */
export interface AclProvisionResult {
  /** Bindings created now (`aclKey` form). */
  created: string[];
  /** Bindings that were already there. */
  existing: number;
  /** ACLs in scope that the matrix does not give (a grant made by hand, a DENY, a wider pattern). */
  drift: AclDrift[];
}

function keyOfDescribed(a: DescribedAcl): string {
  return aclKey({
    principal: a.principal,
    operation: a.operation as KafkaAclBinding['operation'],
    resourceType: a.resourceType as KafkaAclBinding['resourceType'],
    patternType: a.patternType as KafkaAclBinding['patternType'],
    resourceName: a.resourceName,
  });
}

/** Differences between the expected bindings and what the cluster holds in scope (pure; exported for tests). */
export function diffAcls(
  expected: readonly KafkaAclBinding[],
  actual: readonly DescribedAcl[],
  inScope: (acl: DescribedAcl) => boolean,
): { missing: KafkaAclBinding[]; existing: number; drift: AclDrift[] } {
  const want = new Set(expected.map(aclKey));
  const have = new Set<string>();
  const drift: AclDrift[] = [];
  for (const a of actual) {
    const key = keyOfDescribed(a);
    const exact = a.permission === 'ALLOW' && a.host === '*';
    if (exact && want.has(key)) have.add(key);
    else if (inScope(a))
      drift.push({
        acl: exact ? key : `${key} ${a.permission} host ${a.host}`,
        reason: 'not in the access matrix of the topic registry',
      });
  }
  return { missing: expected.filter((b) => !have.has(aclKey(b))), existing: have.size, drift };
}

/** Every ACL of the cluster, in words. */
export async function describeAllAcls(admin: Admin): Promise<DescribedAcl[]> {
  const described = await admin.describeAcls({
    resourceType: AclResourceTypes.ANY,
    resourcePatternType: ResourcePatternTypes.ANY,
    operation: AclOperationTypes.ANY,
    permissionType: AclPermissionTypes.ANY,
  });
  return described.resources.flatMap((r) =>
    r.acls.map((acl) => ({
      principal: acl.principal,
      host: acl.host,
      resourceType: nameOf(AclResourceTypes, r.resourceType),
      patternType: nameOf(ResourcePatternTypes, r.resourcePatternType),
      resourceName: r.resourceName,
      operation: nameOf(AclOperationTypes, acl.operation),
      permission: nameOf(AclPermissionTypes, acl.permissionType),
    })),
  );
}

/**
 * Creates the missing ACL bindings of `expected` and reports drift: ACLs `inScope` says belong to this
 * provisioning that the matrix does not give. Like topics, nothing is removed or changed by itself; idempotent.
 */
export async function provisionAcls(
  admin: Admin,
  expected: readonly KafkaAclBinding[],
  inScope: (acl: DescribedAcl) => boolean,
): Promise<AclProvisionResult> {
  const { missing, existing, drift } = diffAcls(expected, await describeAllAcls(admin), inScope);
  if (missing.length > 0) {
    await admin.createAcls({
      acl: missing.map((b) => ({
        principal: b.principal,
        host: '*',
        resourceType: RESOURCE[b.resourceType],
        resourceName: b.resourceName,
        resourcePatternType: PATTERN[b.patternType],
        operation: OPERATION[b.operation],
        permissionType: AclPermissionTypes.ALLOW,
      })),
    });
    await waitForAclsVisible(admin, missing);
  }
  return { created: missing.map(aclKey), existing, drift };
}

/**
 * Waits until the broker's authorizer lists every binding created: with KRaft, CreateAcls returns once the
 * controller has committed them and the broker applies them a moment later, so a client acting at once
 * could still be refused.
 */
async function waitForAclsVisible(
  admin: Admin,
  created: readonly KafkaAclBinding[],
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { missing } = diffAcls(created, await describeAllAcls(admin), () => false);
    if (missing.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(
        `ACLs not applied by the broker after ${timeoutMs} ms: ${missing.map(aclKey).join(', ')}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Deletes every ACL on the LITERAL topic names given (a removed run namespace); returns how many went. */
export async function deleteNamespaceAcls(admin: Admin, topics: readonly string[]): Promise<number> {
  if (topics.length === 0) return 0;
  const result = await admin.deleteAcls({
    filters: topics.map((name) => ({
      resourceType: AclResourceTypes.TOPIC,
      resourceName: name,
      resourcePatternType: ResourcePatternTypes.LITERAL,
      operation: AclOperationTypes.ANY,
      permissionType: AclPermissionTypes.ANY,
    })),
  });
  return result.filterResponses.reduce((n, r) => n + r.matchingAcls.length, 0);
}

/** True when a kafkajs error (or one it wraps) is a broker authorization refusal (`*_AUTHORIZATION_FAILED`). */
export function isAuthorizationError(error: unknown): boolean {
  const seen = new Set<unknown>();
  let e: unknown = error;
  while (e !== null && typeof e === 'object' && !seen.has(e)) {
    seen.add(e);
    const type = (e as { type?: unknown }).type;
    if (typeof type === 'string' && type.endsWith('_AUTHORIZATION_FAILED')) return true;
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string' && /not authorized/i.test(message)) return true;
    e = (e as { originalError?: unknown; cause?: unknown }).originalError ?? (e as { cause?: unknown }).cause;
  }
  return false;
}
