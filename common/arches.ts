/**
 * The RPM architecture names this service knows: rpm's own list (rpmrc's arch_canon and
 * buildarch tables) plus Pungi's tree arch `armhfp` and the source "arches". A compose's
 * `arches` and `multilib_arches` become directory names (`<arch>/os`), so only these names are
 * accepted; a character pattern would still let `.`, `..` or `__proto__` through.
 *
 * One list for the whole codebase: the API checks requests against it and the configuration
 * checks its default `arches` against it.
 */
export const RPM_ARCHES: ReadonlySet<string> = new Set([
  // x86
  'i386', 'i486', 'i586', 'i686', 'athlon', 'geode', 'pentium3', 'pentium4',
  'x86_64', 'amd64', 'ia32e', 'em64t', 'x86_64_v2', 'x86_64_v3', 'x86_64_v4',
  // Arm
  'armv3l', 'armv4b', 'armv4l', 'armv5tl', 'armv5tel', 'armv5tejl', 'armv6l', 'armv6hl',
  'armv7l', 'armv7hl', 'armv7hnl', 'armv8l', 'armv8hl', 'armv8hnl', 'armv8hcnl', 'armhfp', 'aarch64',
  // POWER
  'ppc', 'ppc8260', 'ppc8560', 'ppc32dy4', 'ppciseries', 'ppcpseries',
  'ppc64', 'ppc64le', 'ppc64p7', 'ppc64iseries', 'ppc64pseries',
  // IBM Z
  's390', 's390x',
  // Others rpm knows
  'riscv64', 'loongarch64', 'ia64', 'm68k', 'sh3', 'sh4', 'sh4a',
  'mips', 'mipsel', 'mipsr6', 'mipsr6el', 'mips64', 'mips64el', 'mips64r6', 'mips64r6el',
  'sparc', 'sparcv8', 'sparcv9', 'sparcv9v', 'sparc64', 'sparc64v',
  'alpha', 'alphaev5', 'alphaev56', 'alphapca56', 'alphaev6', 'alphaev67',
  'sw_64',
  // Not machine arches, but arches of packages and of compose trees
  'noarch', 'src', 'nosrc',
]);

/** Whether `name` is a known RPM architecture (a Set lookup: `__proto__` or `constructor` are not). */
export function isKnownArch(name: string): boolean {
  return RPM_ARCHES.has(name);
}
