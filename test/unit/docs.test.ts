/**
 * Every export of the public API (lib/index.ts, and each primitive
 * namespace it re-exports) has a TSDoc comment, as do the public members of
 * the classes a Node program holds (Container, ContainerProcess,
 * ContainerTerminal): the generated API reference (`npm run docs`) has no
 * empty entries. Uses the TypeScript compiler on the sources; no root.
 */
import t from 'tap';
import { join } from 'node:path';
import ts from 'typescript';
import { repoRoot } from '../helpers/paths.js';

const index = join(repoRoot, 'lib', 'index.ts');
const program = ts.createProgram([index], {
  strict: true,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  target: ts.ScriptTarget.ES2022,
  noEmit: true,
});
const checker = program.getTypeChecker();
const doc = (sym: ts.Symbol) => ts.displayPartsToString(sym.getDocumentationComment(checker)).trim();

t.test('every public export and container class member has a doc comment', async (t) => {
  const missing: string[] = [];
  const seen = new Set<ts.Symbol>();
  let count = 0;
  const visit = (sym: ts.Symbol, prefix: string): void => {
    const target = sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
    if (seen.has(target)) return;
    seen.add(target);
    const name = prefix + sym.name;
    if (target.flags & ts.SymbolFlags.ValueModule && target.declarations?.some((d) => ts.isSourceFile(d))) {
      for (const e of checker.getExportsOfModule(target)) visit(e, `${name}.`);
      return;
    }
    count++;
    if (!doc(target)) missing.push(name);
  };
  const mod = checker.getSymbolAtLocation(program.getSourceFile(index)!)!;
  for (const e of checker.getExportsOfModule(mod)) visit(e, '');
  for (const cls of ['Container', 'ContainerProcess', 'ContainerTerminal']) {
    const sym = checker.getExportsOfModule(mod).find((e) => e.name === cls)!;
    const target = checker.getAliasedSymbol(sym);
    for (const m of checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(target))) {
      const decl = m.valueDeclaration ?? m.declarations?.[0];
      if (!decl || !decl.getSourceFile().fileName.startsWith(join(repoRoot, 'lib'))) continue; // Duplex/EventEmitter's own
      const mods = ts.canHaveModifiers(decl) ? ts.getModifiers(decl) ?? [] : [];
      if (mods.some((x) => x.kind === ts.SyntaxKind.PrivateKeyword) || m.name.startsWith('_') || m.name.startsWith('__@')) continue;
      count++;
      if (!doc(m)) missing.push(`${cls}.${m.name}`);
    }
  }
  t.ok(count > 200, `${count} exports and members checked`);
  t.same(missing, [], 'none without a doc comment');
});
