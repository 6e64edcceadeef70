import { ComposeError } from '../../common/errors';
import { FLAGS } from '../../common/enums';
import type { ComposeRow } from '../../common/db/entities';
import { groupSignatureRows, type RpmWithSignatures } from '../koji/signatures';
import type { KojiTaggedRpm } from '../koji/types';
import { MbsClient, MbsError } from '../mbs/client';
import { artifactNevra, moduleArches, modulemdArtifacts, modulesYaml, withArtifacts } from '../modules/modulemd';
import { resolveThroughKoji, type ResolvedModule } from '../modules/resolve-koji';
import { isDevelBuild, nsvcOf, resolvedSource, resolveThroughMbs } from '../modules/resolve-mbs';
import { selectModulePackages, type ModulePackage } from '../modules/select';
import { baseArch } from '../rpm/arches';
import { askKoji, kojiPackageRepo, netSettings, openKoji, poolArches, type KojiSession } from './koji-pool';
import type { SourceContext, SourceHandler } from './types';

/**
 * `module` (reference §5.2–§5.3): the N:S[:V[:C]] items resolved to module builds through MBS,
 * or through Koji when `modular_koji_tags` is given, with their runtime module dependencies
 * unless `no_deps`; `source` becomes the sorted N:S:V:C list. The compose is every RPM the
 * modules list as artifacts, taken from each module's own Koji tag (Pungi's `module` gather
 * source with `nodeps`), plus each arch's modules.yaml for `dnf module`.
 */
export const moduleSource: SourceHandler = {
  async resolve(compose, ctx) {
    // Scratch module builds live only in MBS (their RPMs in Koji scratch tasks): not supported yet.
    if (compose.scratch_modules?.length) throw new ComposeError('Scratch modules are not supported by this server yet.');
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

    const included = modules.filter((m) => !ctx.cfg.base_module_names.includes(m.name));
    const session = openKoji(ctx, targetDir);
    const packages = await modulePool(session, included, compose);
    const multilib = new Set(compose.multilib_arches);
    const modulemd: Record<string, string> = {};
    for (const arch of compose.arches) {
      const docs = included.filter((m) => builtFor(m, arch)).map((m) => packages.modulemds.get(nsvcOf(m)) ?? m.modulemd);
      if (docs.length) modulemd[arch] = modulesYaml(docs, arch, moduleArches(arch, multilib.has(arch)));
    }
    const selection = selectModulePackages({
      packages: packages.list,
      arches: compose.arches,
      multilibArches: compose.multilib_arches,
      moduleOnArch: (nsvc, arch) => {
        const m = included.find((x) => nsvcOf(x) === nsvc);
        return m === undefined || builtFor(m, arch);
      },
    });
    return { repos: [packages.repo], lookaside: [], extras: { source }, selection, modulemd };
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
