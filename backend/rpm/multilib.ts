/**
 * Whether a 32-bit package is worth adding next to its 64-bit twin, per multilib method, as
 * Pungi's dnf backend decides it through python-multilib:
 *  - `all`: every (non-noarch, non-debug) package;
 *  - `runtime`: packages shipping shared libraries or loadable modules: a `*.so.*` file directly
 *    in /lib, /lib64, /usr/lib or /usr/lib64, a PAM module, an NSS or libdb library, an
 *    ld.so.conf.d snippet, or a file in a known plugin directory (dri, sasl2, gtk/qt/gstreamer
 *    modules, …);
 *  - `devel`: what `runtime` selects plus packages named `*-devel` or `*-static` (except `ghc-*`);
 *  - `none`: nothing.
 * python-multilib's distribution-specific white/blacklists (/etc/multilib.conf) are not applied.
 */
import type { RpmPackage } from './model';

export type MultilibMethod = 'none' | 'runtime' | 'devel' | 'all';
export const MULTILIB_METHODS: readonly MultilibMethod[] = ['none', 'runtime', 'devel', 'all'];

const ROOT_LIB_DIRS = new Set(['/lib', '/lib64']);
const LIB_DIRS = new Set(['/lib', '/lib64', '/usr/lib', '/usr/lib64']);
const PLUGIN_DIRS = new Set(
  ['alsa-lib', 'dri', 'gtk-2.0/modules', 'gtk-2.0/immodules', 'krb5/plugins', 'sasl2', 'vdpau'].flatMap((d) => [
    `/usr/lib/${d}`,
    `/usr/lib64/${d}`,
  ]),
);
for (const d of ROOT_LIB_DIRS) PLUGIN_DIRS.add(`${d}/security`);
PLUGIN_DIRS.add('/etc/lsb-release.d');

const USR_LIB_PLUGIN_PATTERNS: readonly RegExp[] = [
  /^\/usr\/lib(64)?\/gtk-2\.0\/[^/]+\/(engines|modules|immodules|loaders|printbackends|filesystems)$/,
  /^\/usr\/lib(64)?\/gstreamer-/,
  /^\/usr\/lib[^/]*\/(qt|kde)[^/]*\/plugins\/[^/]+/,
  /^\/usr\/lib[^/]*\/qt5\/qml\/[^/]+/,
  /^\/usr\/lib[^/]*\/gdk-pixbuf-2\.0\/[^/]+\/loaders$/,
  /^\/usr\/lib[^/]*\/xine\/plugins\/[^/]+/,
];

const SONAME_FILE = /\.so\./;

function isRuntime(pkg: RpmPackage): boolean {
  for (const file of pkg.files) {
    const slash = file.lastIndexOf('/');
    if (slash < 0) continue;
    const dir = file.slice(0, slash);
    const base = file.slice(slash + 1);
    if (LIB_DIRS.has(dir) && SONAME_FILE.test(base)) return true;
    if (PLUGIN_DIRS.has(dir)) return true;
    if (dir === '/etc/ld.so.conf.d' && base.endsWith('.conf')) return true;
    if (ROOT_LIB_DIRS.has(dir) && (base.startsWith('libnss_') || base.startsWith('libdb-'))) return true;
    if (dir.startsWith('/usr/lib') && USR_LIB_PLUGIN_PATTERNS.some((re) => re.test(dir))) return true;
  }
  return false;
}

function isDevel(pkg: RpmPackage): boolean {
  if (isRuntime(pkg)) return true;
  if (pkg.name.startsWith('ghc-')) return false;
  return pkg.name.endsWith('-devel') || pkg.name.endsWith('-static');
}

/** The first of `methods` that selects `pkg` as multilib, or null. */
export function multilibMethodFor(pkg: RpmPackage, methods: readonly MultilibMethod[]): MultilibMethod | null {
  if (pkg.arch === 'noarch' || isDebugName(pkg.name)) return null;
  for (const method of methods) {
    switch (method) {
      case 'all':
        return method;
      case 'runtime':
        if (isRuntime(pkg)) return method;
        break;
      case 'devel':
        if (isDevel(pkg)) return method;
        break;
      case 'none':
        break;
    }
  }
  return null;
}

/** Pungi's DEBUG_PATTERNS: `*-debuginfo`, `*-debuginfo-*`, `*-debugsource`. */
export function isDebugName(name: string): boolean {
  return name.endsWith('-debuginfo') || name.includes('-debuginfo-') || name.endsWith('-debugsource');
}
