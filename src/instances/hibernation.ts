/**
 * Which instance types can hibernate, and how much memory they have: enough to check at synth time that
 * a hibernated warm pool can work. Pure data; unknown types produce a warning, not an error.
 *
 * @see https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/hibernating-prerequisites.html
 */

/** Families that support hibernation (x86_64, general purpose, compute and memory optimized, burstable). */
const HIBERNATING_FAMILIES = new Set([
  'c3', 'c4', 'c5', 'c5d', 'c6a', 'c6i', 'c6id', 'c7a', 'c7i', 'c7i-flex',
  'm3', 'm4', 'm5', 'm5a', 'm5ad', 'm5d', 'm6a', 'm6i', 'm6id', 'm7a', 'm7i', 'm7i-flex',
  'r3', 'r4', 'r5', 'r5a', 'r5ad', 'r5d', 'r6a', 'r6i', 'r6id', 'r7a', 'r7i',
  't2', 't3', 't3a',
]);

/** GiB of memory per vCPU for each family class (c = 2, m = 4, r = 8); burstable sizes are listed. */
const GIB_PER_VCPU: Record<string, number> = { c: 2, m: 4, r: 8 };
const VCPUS_BY_SIZE: Record<string, number> = {
  'large': 2, 'xlarge': 4, '2xlarge': 8, '4xlarge': 16, '8xlarge': 32, '12xlarge': 48, '16xlarge': 64,
};
const BURSTABLE_GIB: Record<string, number> = {
  'nano': 0.5, 'micro': 1, 'small': 2, 'medium': 4, 'large': 8, 'xlarge': 16, '2xlarge': 32,
};

/** The largest memory size AWS hibernates. */
export const MAX_HIBERNATION_MEMORY_GIB = 150;

export interface HibernationFacts {
  /** Whether the family can hibernate; undefined when the type is not in our table. */
  readonly supported?: boolean;
  /** Memory in GiB, when known. */
  readonly memoryGiB?: number;
}

/** Looks up an instance type such as `m7i.large`. */
export function hibernationFacts(instanceType: string): HibernationFacts {
  const [family, size] = instanceType.toLowerCase().split('.');
  if (!family || !size) {
    return {};
  }
  if (!HIBERNATING_FAMILIES.has(family)) {
    // Graviton and accelerated families (letters g, a1, p, inf, ...) and metal sizes cannot hibernate.
    return /^(a1|[cmrt]\d+g[a-z]*|[a-z]+\d+g[a-z]*|p\d|g\d|inf\d|trn\d|mac\d)$/.test(family) ? { supported: false } : {};
  }
  if (size === 'metal') {
    return { supported: false };
  }
  if (family.startsWith('t')) {
    return { supported: true, memoryGiB: BURSTABLE_GIB[size] };
  }
  const vcpus = VCPUS_BY_SIZE[size];
  const perVcpu = GIB_PER_VCPU[family[0]];
  return { supported: true, memoryGiB: vcpus && perVcpu ? vcpus * perVcpu : undefined };
}

/** Room the operating system and the runner need on the root volume besides the saved memory. */
export const HIBERNATION_ROOT_HEADROOM_GIB = 8;
