#!/usr/bin/env node
/**
 * Syntax-checks the offline-generated bindings in dist/codegen:
 * Python with compileall, Go with gofmt -e, Java with the JDK's parser (JavacTask.parse, no jars
 * needed). C# has no offline parser here: its files are counted and reported, not checked.
 */
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..', 'dist', 'codegen');
const find = (dir, ext) => {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? find(p, ext) : p.endsWith(ext) ? [p] : [];
  });
};
const run = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

let failures = 0;
function check(language, files, fn) {
  if (files.length === 0) {
    console.error(`bindings: no ${language} files generated`);
    failures++;
    return;
  }
  try {
    fn(files);
    console.log(`bindings: ${language}: ${files.length} files checked`);
  } catch (e) {
    console.error(`bindings: ${language} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}${e.message}`);
    failures++;
  }
}

check('python', find(path.join(root, 'python'), '.py'), () => run('python3', ['-m', 'compileall', '-q', path.join(root, 'python')]));

const gofmt = fs.existsSync('/usr/lib/go/bin/gofmt') ? '/usr/lib/go/bin/gofmt' : 'gofmt';
check('go', find(path.join(root, 'go'), '.go'), (files) => {
  const out = run(gofmt, ['-e', '-l', ...files]);
  if (out.trim()) console.log(`bindings: go: gofmt would reformat (not an error):\n${out}`);
});

check('java', find(path.join(root, 'java'), '.java'), (files) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'javaparse-'));
  const src = path.join(dir, 'ParseOnly.java');
  fs.writeFileSync(src, `
import javax.tools.*; import com.sun.source.util.JavacTask; import java.util.*; import java.io.File;
public class ParseOnly {
  public static void main(String[] args) throws Exception {
    JavaCompiler c = ToolProvider.getSystemJavaCompiler();
    DiagnosticCollector<JavaFileObject> d = new DiagnosticCollector<>();
    StandardJavaFileManager fm = c.getStandardFileManager(d, null, null);
    List<File> files = new ArrayList<>(); for (String a : args) files.add(new File(a));
    JavacTask t = (JavacTask) c.getTask(null, fm, d, List.of("-proc:none"), null, fm.getJavaFileObjectsFromFiles(files));
    t.parse();
    int errors = 0;
    for (Diagnostic<?> x : d.getDiagnostics()) if (x.getKind() == Diagnostic.Kind.ERROR) { System.err.println(x); errors++; }
    if (errors > 0) System.exit(1);
  }
}`);
  run('java', [src, ...files]);
});

const csharp = find(path.join(root, 'dotnet'), '.cs');
if (csharp.length === 0) {
  console.error('bindings: no C# files generated');
  failures++;
} else {
  console.log(`bindings: dotnet: ${csharp.length} files generated (no offline C# parser: not syntax-checked)`);
}
process.exit(failures ? 1 : 0);
