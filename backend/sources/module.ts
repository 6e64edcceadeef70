import { ComposeError } from '../../common/errors';
import { FLAGS } from '../../common/enums';
import type { ComposeRow } from '../../common/db/entities';
import { groupSignatureRows, type RpmWithSignatures } from '../koji/signatures';
import type { KojiTaggedRpm } from '../koji/types';
import { MbsClient, MbsError } from '../mbs/client';
import { defaultsFor, fetchModuleDefaults, moduleDefaultsLocation } from '../modules/defaults';
import { artifactNevra, moduleArches, modulemdArtifacts, modulesYaml, withArtifacts } from '../modules/modulemd';
import { resolveThroughKoji, type ResolvedModule } from '../modules/resolve-koji';
import { resolveScratchModules, type ScratchModule } from '../modules/resolve-scratch';
import { isDevelBuild, nsvcOf, resolvedSource, resolveThroughMbs } from '../modules/resolve-mbs';
import { selectModulePackages, type ModulePackage } from '../modules/select';
import { baseArch } from '../rpm/arches';
import { askKoji, kojiPackageRepo, netSettings, openKoji, poolArches, type KojiSession } from './koji-pool';
import { composeWorkDir, taskRpmRepo, taskRpms } from './scratch-tasks';
import type { PackageRepo } from './types';
import type { SourceContext, SourceHandler } from './types';

/**
 * `module` (reference §5.2–§5.3): the N:S[:V[:C]] items resolved to module builds through MBS,
 * or through Koji when `modular_koji_tags` is given, with their runtime module dependencies
 * unless `no_deps`; `source` becomes the sorted N:S:V:C list. The compose is every RPM the
 * modules list as artifacts, taken from each module's own Koji tag (Pungi's `module` gather
 * source with `nodeps`), plus each arch's modules.yaml for `dnf module`. `scratch_modules` join
 * them (MBS's final modulemd, RPMs from their components' Koji tasks), and with
 * `module_defaults_url` the defaults of the included modules follow in modules.yaml.
 */
export const moduleSource: SourceHandler = {
  async resolve(compose, ctx) {
    const targetDir = compose.target_dir ?? ctx.cfg.target_dir;
    const items = compose.source.split(' ').filter(Boolean);
    const modules = compose.modular_koji_tags?.length
      ? await resolveThroughKoji(items, compose.modular_koji_tags, openKoji(ctx, targetDir).koji, {
          noDeps: (compose.flags & FLAGS.no_deps) !== 0,
          baseModuleNames: ctx.cfg.base_module_names,
          log: ctx.log,
        })
      : await resolveWithMbs(items, compose, ctx);
    const source = resolvedSource(modules, ctx.cfg.base_module_names);
    ctx.log.info(`Modules: ${source || '(none)'}`);
    // Checked where ODCS checks it, when writing the Pungi configuration after resolution.
    if (compose.packages?.length) throw new ComposeError('Exact packages cannot be set for MODULE source type.');

    const regular = modules.filter((m) => !ctx.cfg.base_module_names.includes(m.name));
    const session = openKoji(ctx, targetDir);
    const packages = await modulePool(session, regular, compose);
    // Scratch modules are not part of `source` (ODCS keeps it as resolved), but of the compose.
    const scratch = await scratchModulePool(session, compose, ctx);
    const included = [...regular, ...scratch.modules];
    const defaults = await moduleDefaults(compose, ctx);
    const multilib = new Set(compose.multilib_arches);
    const modulemd: Record<string, string> = {};
    for (const arch of compose.arches) {
      const onArch = included.filter((m) => builtFor(m, arch));
      const docs = onArch.map((m) => scratch.modulemds.get(nsvcOf(m))?.[arch] ?? packages.modulemds.get(nsvcOf(m)) ?? m.modulemd);
      // The defaults of the modules on this arch follow their modulemd documents (Pungi writes both).
      if (docs.length) modulemd[arch] = modulesYaml(docs, arch, moduleArches(arch, multilib.has(arch))) + defaultsFor(defaults, onArch.map((m) => m.name));
    }
    const selection = selectModulePackages({
      packages: [...packages.list, ...scratch.list],
      arches: compose.arches,
      multilibArches: compose.multilib_arches,
      moduleOnArch: (nsvc, arch) => {
        const m = included.find((x) => nsvcOf(x) === nsvc);
        return m === undefined || builtFor(m, arch);
      },
    });
    return { repos: scratch.repo ? [packages.repo, scratch.repo] : [packages.repo], lookaside: [], extras: { source }, selection, modulemd };
  },
};

async function resolveWithMbs(items: readonly string[], compose: ComposeRow, ctx: SourceContext): Promise<ResolvedModule[]> {
  // As for Koji: an unconfigured MBS fails the compose at once instead of retrying a default URL.
  if (!ctx.cfg.mbs_url) {
    throw new ComposeError('MBS is not configured on this server: mbs_url must be set (or the compose must give modular_koji_tags).');
  }
  const mbs = new MbsClient({
    url: ctx.cfg.mbs_url,
    ...netSettings(ctx.cfg),
    log: (message) => ctx.log.warning(message),
    signal: ctx.signal,
  });
  try {
    const builds = await resolveThroughMbs(items, mbs, {
      includeDone: (compose.flags & FLAGS.include_done_modules) !== 0,
      noDeps: (compose.flags & FLAGS.no_deps) !== 0,
      baseModuleNames: ctx.cfg.base_module_names,
      baseModuleBr: {
        name: compose.base_module_br_name,
        stream: compose.base_module_br_stream,
        lte: compose.base_module_br_stream_version_lte,
        gte: compose.base_module_br_stream_version_gte,
      },
      signal: ctx.signal,
      onLookup: (nsvc, found) => ctx.log.info(`MBS: ${nsvc} -> ${found.map(nsvcOf).join(' ') || 'nothing'}`),
    });
    return builds.map((b) => {
      if (!b.modulemd) throw new ComposeError(`MBS gave no modulemd for module ${nsvcOf(b)}`);
      const arches = b.raw['arches'];
      return {
        name: b.name,
        stream: b.stream,
        version: b.version,
        context: b.context,
        kojiTag: b.kojiTag,
        modulemd: b.modulemd,
        arches: Array.isArray(arches) ? arches.map(String) : null,
        devel: isDevelBuild(b),
      };
    });
  } catch (err) {
    if (err instanceof MbsError) throw new ComposeError(err.message);
    throw err;
  }
}

/**
 * The compose's scratch modules (backend/modules/resolve-scratch.ts): each as a module of the
 * compose with its final modulemd per arch, and the RPMs of its component tasks that are among
 * its artifacts, in one package repository.
 */
async function scratchModulePool(session: KojiSession, compose: ComposeRow, ctx: SourceContext) {
  const none = { modules: [] as ResolvedModule[], modulemds: new Map<string, Record<string, string>>(), list: [] as ModulePackage[], repo: null as PackageRepo | null };
  const nsvcs = compose.scratch_modules ?? [];
  if (nsvcs.length === 0) return none;
  if (!ctx.cfg.mbs_url) throw new ComposeError('MBS is not configured on this server: mbs_url must be set for scratch_modules.');
  const mbs = new MbsClient({ url: ctx.cfg.mbs_url, ...netSettings(ctx.cfg), log: (message) => ctx.log.warning(message), signal: ctx.signal });
  let found: ScratchModule[];
  try {
    found = await resolveScratchModules(nsvcs, mbs, { composeType: compose.compose_type, signal: ctx.signal });
  } catch (err) {
    if (err instanceof MbsError) throw new ComposeError(err.message);
    throw err;
  }
  const modules: ResolvedModule[] = found.map((s) => ({
    name: s.build.name,
    stream: s.build.stream,
    version: s.build.version,
    context: s.build.context,
    kojiTag: s.build.kojiTag,
    modulemd: Object.values(s.modulemds)[0]!,
    // MBS names the arches of the final modulemds as Koji does (i686, not i386).
    arches: Object.keys(s.modulemds),
    devel: false,
  }));
  const modulemds = new Map(found.map((s) => [s.nsvc, Object.fromEntries(Object.entries(s.modulemds).map(([a, t]) => [a === 'i686' ? 'i386' : a, t]))]));
  const artifactsOf = new Map(found.map((s) => [s.nsvc, new Set(Object.values(s.modulemds).flatMap(modulemdArtifacts))]));
  const taskIds = [...new Set(found.flatMap((s) => s.taskIds))];
  ctx.log.info(`Scratch modules ${found.map((s) => s.nsvc).join(' ')}: RPMs from Koji tasks ${taskIds.join(' ') || '(none)'}`);
  const rpms = await taskRpms(session, taskIds, poolArches(compose));
  const repo = await taskRpmRepo(session, ctx, rpms, composeWorkDir(compose, ctx, 'scratch-modules'), 'koji-scratch-modules');
  const list: ModulePackage[] = [];
  for (const pkg of repo?.packages ?? []) {
    const nevra = artifactNevra(pkg);
    const of = found.filter((s) => artifactsOf.get(s.nsvc)!.has(nevra)).map((s) => s.nsvc);
    if (of.length) list.push({ pkg, modules: of });
  }
  const missing = found.flatMap((s) => [...artifactsOf.get(s.nsvc)!].filter((n) => !n.endsWith('.src') && !list.some((p) => artifactNevra(p.pkg) === n) && poolArches(compose).includes(n.slice(n.lastIndexOf('.') + 1))).map((n) => `${n} (${s.nsvc})`));
  if (missing.length) throw new ComposeError(`The Koji tasks of the scratch modules do not hold: ${missing.join(', ')}`);
  return { modules, modulemds, list, repo };
}

/** The modulemd-defaults documents of the compose's module_defaults_url/commit (none without them). */
async function moduleDefaults(compose: ComposeRow, ctx: SourceContext): Promise<Map<string, string>> {
  if (!compose.module_defaults_url) return new Map();
  const location = moduleDefaultsLocation(ctx.cfg, compose.module_defaults_url);
  ctx.log.info(`Module defaults from ${location.url} at ${location.commit}`);
  const defaults = await fetchModuleDefaults(location, { cfg: ctx.cfg, log: ctx.log, signal: ctx.signal, workDir: composeWorkDir(compose, ctx, 'module-defaults') });
  ctx.log.info(`Module defaults for: ${[...defaults.keys()].sort().join(' ') || '(none)'}`);
  return defaults;
}

/** Whether the module was built for compose arch `arch` (Pungi skips a module without a modulemd for it). */
function builtFor(m: ResolvedModule, arch: string): boolean {
  return m.arches === null || m.arches.some((a) => baseArch(a) === baseArch(arch));
}

/**
 * The RPMs of the modules: each module's Koji tag, limited to the NEVRAs its modulemd lists
 * as artifacts (filtered subpackages and leftovers in the tag stay out, as with Pungi's
 * whitelist), one package repository for all of them.
 */
async function modulePool(session: KojiSession, modules: readonly ResolvedModule[], compose: ComposeRow) {
  const poolArchSet = new Set(poolArches(compose));
  const modulemds = new Map<string, string>();
  const byRpm = new Map<number, { entry: RpmWithSignatures<KojiTaggedRpm>; modules: string[] }>();
  for (const m of modules) {
    const nsvc = nsvcOf(m);
    if (!m.kojiTag) throw new ComposeError(`Module ${nsvc} has no Koji tag`);
    const artifacts = new Set(modulemdArtifacts(m.modulemd));
    const listed = await askKoji(`listing of module tag ${m.kojiTag}`, () => session.koji.listTaggedRPMS(m.kojiTag!, { rpmsigs: true }));
    const all = groupSignatureRows(listed.rpms, listed.builds);
    if (m.devel) {
      // MBS's -devel module holds what the module filters out of its components' RPMs.
      const devel = all.map((e) => artifactNevra(e.rpm)).filter((n) => !artifacts.has(n));
      modulemds.set(nsvc, withArtifacts(m.modulemd, devel.sort()));
      artifacts.clear();
      for (const n of devel) artifacts.add(n);
    }
    const found = all.filter((e) => artifacts.has(artifactNevra(e.rpm)) && poolArchSet.has(e.rpm.arch));
    session.log.info(`Module ${nsvc}: ${found.length} RPMs of ${[...poolArchSet].join(', ')} from Koji tag ${m.kojiTag}`);
    for (const entry of found) {
      const seen = byRpm.get(entry.rpm.id);
      if (seen) seen.modules.push(nsvc);
      else byRpm.set(entry.rpm.id, { entry, modules: [nsvc] });
    }
  }
  const repo = await kojiPackageRepo(session, {
    name: 'koji-modules',
    candidates: [...byRpm.values()].map((v) => v.entry),
    sigkeys: compose.sigkeys,
  });
  const modulesOf = new Map([...byRpm.values()].map((v) => [artifactNevra(v.entry.rpm), v.modules]));
  const list: ModulePackage[] = repo.packages.map((pkg) => ({ pkg, modules: modulesOf.get(artifactNevra(pkg)) ?? [] }));
  return { repo, list, modulemds };
}
