/**
 * Which package architectures belong to a compose architecture, following Pungi's arch
 * tables: the "native" arches, the multilib arches (only visible when multilib is enabled for
 * that compose arch), and noarch. Source arches never take part.
 */

export interface ArchSet {
  /** The compose architecture, e.g. `x86_64`. */
  arch: string;
  /** Best first, noarch last; the order breaks ties between equally good providers. */
  order: readonly string[];
  native: ReadonlySet<string>;
  multilib: ReadonlySet<string>;
}

const NATIVE: Record<string, readonly string[]> = {
  x86_64: ['x86_64'],
  i386: ['athlon', 'i686', 'i586', 'i486', 'i386'],
  aarch64: ['aarch64'],
  ppc64le: ['ppc64le'],
  ppc64: ['ppc64', 'ppc64p7'],
  ppc: ['ppc'],
  s390x: ['s390x'],
  s390: ['s390'],
  armhfp: ['armv7hnl', 'armv7hl', 'armv6hl'],
  riscv64: ['riscv64'],
};

const MULTILIB: Record<string, readonly string[]> = {
  x86_64: ['athlon', 'i686', 'i586', 'i486', 'i386'],
  ppc64: ['ppc'],
  s390x: ['s390'],
};

/** Maps rpm arch names to the tree (base) arch Pungi keys its tables by. */
const BASE_ARCH: Record<string, string> = {
  amd64: 'x86_64',
  ia32e: 'x86_64',
  athlon: 'i386',
  i686: 'i386',
  i586: 'i386',
  i486: 'i386',
  ppc64p7: 'ppc64',
  armv7hl: 'armhfp',
  armv7hnl: 'armhfp',
  armv6hl: 'armhfp',
};

export const SOURCE_ARCHES: ReadonlySet<string> = new Set(['src', 'nosrc']);

export function baseArch(arch: string): string {
  return BASE_ARCH[arch] ?? arch;
}

/** The arch set of compose arch `arch`, with its multilib arches when `multilib` is true. */
export function archSet(arch: string, multilib: boolean): ArchSet {
  const base = baseArch(arch);
  const native = NATIVE[base] ?? [arch];
  const ml = multilib ? (MULTILIB[base] ?? []) : [];
  return {
    arch,
    order: [...native, ...ml, 'noarch'],
    native: new Set([...native, 'noarch']),
    multilib: new Set(ml),
  };
}

/**
 * Whether a package's ExclusiveArch / ExcludeArch (copied from its SRPM onto noarch packages)
 * keep it out of the tree of `set.arch`. As Pungi's package set: the arches that count are the
 * tree's native arches without noarch and without multilib ones; an ExcludeArch naming one of
 * them excludes, an ExclusiveArch naming none of them excludes.
 */
export function excludedFromArch(pkg: { exclusiveArch?: readonly string[]; excludeArch?: readonly string[] }, set: ArchSet): boolean {
  const arches = [...set.native].filter((a) => a !== 'noarch');
  if (pkg.excludeArch?.some((a) => arches.includes(a))) return true;
  if (pkg.exclusiveArch?.length && !pkg.exclusiveArch.some((a) => arches.includes(a))) return true;
  return false;
}
