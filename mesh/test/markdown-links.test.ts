import { existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";

/**
 * The READMEs point at each other instead of repeating themselves, so a moved file or a renamed
 * heading would leave a reader at a dead end: every relative link in every markdown file of the
 * repository must name a file or folder that exists and, with `#…`, a heading of that file.
 */

const ROOT = resolve(__dirname, "../..");

/** Folders that hold no documentation of ours: installed, built or generated. */
const SKIPPED = new Set(["node_modules", "dist", ".git", ".tools", "test-output", "coverage", "secrets"]);

function markdownFiles(root: string, folder = root): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return SKIPPED.has(entry.name) ? [] : markdownFiles(root, path);
    return entry.name.endsWith(".md") ? [path] : [];
  });
}

/** The text a reader sees as prose: fenced blocks and inline code hold examples, not links. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "").replace(/`[^`\n]*`/g, "");
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens; repeats get -1, -2, … */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const found = new Set<string>();
  for (const [, heading] of markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "").matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const text = heading!.replace(/\[([^\]]*)\]\([^)]*\)/g, "$1");
    const slug = text.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    found.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return found;
}

/** Every relative link of `files` (absolute paths) that leads nowhere, as "file: target (why)". */
function brokenLinks(root: string, files: string[]): string[] {
  return files.flatMap((file) => {
    const markdown = readFileSync(file, "utf8");
    const targets = [...prose(markdown).matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((match) => match[1]!);
    return targets.flatMap((target) => {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return []; // http:, https:, mailto:: not ours to check
      const [path = "", anchor] = target.split("#", 2);
      const resolved = path === "" ? file : resolve(dirname(file), decodeURIComponent(path));
      const where = `${relative(root, file)}: ${target}`;
      if (!existsSync(resolved)) return [`${where} (no such file)`];
      if (anchor === undefined) return [];
      if (statSync(resolved).isDirectory() || !resolved.endsWith(".md")) return [`${where} (a heading of a file that is not markdown)`];
      return anchors(readFileSync(resolved, "utf8")).has(anchor.toLowerCase()) ? [] : [`${where} (no such heading)`];
    });
  });
}

describe("markdown links", () => {
  it("finds the documentation to check", () => {
    const files = markdownFiles(ROOT).map((file) => relative(ROOT, file));
    expect(files).toEqual(expect.arrayContaining(["README.md", "k8s/README.md", "gateway/README.md", "services/README.md", "packages/kit/README.md"]));
  });

  it("every relative link names a file, folder or heading that exists", () => {
    expect(brokenLinks(ROOT, markdownFiles(ROOT))).toEqual([]);
  });

  it("reports a missing file, a missing heading and a heading of a file that is not markdown, and nothing else", () => {
    const root = mkdtempSync(join(tmpdir(), "chirp-links-"));
    try {
      mkdirSync(join(root, "docs"));
      writeFileSync(join(root, "docs/guide.md"), "# A guide\n\n## Run `npm start` (twice)\n\n## Run `npm start` (twice)\n\n```sh\n# not a heading\n```\n");
      writeFileSync(join(root, "code.ts"), "");
      writeFileSync(
        join(root, "README.md"),
        [
          "# Front page",
          "[ok](docs/guide.md) [ok](docs/guide.md#a-guide) [ok](docs/guide.md#run-npm-start-twice-1) [ok](docs/) [ok](#front-page)",
          "[ok](https://example.com/nowhere.md) [ok](<docs/guide.md>) `[not a link](missing.md)`",
          "```\n[not a link](missing.md)\n```",
          "[bad](missing.md) [bad](docs/guide.md#not-a-heading) [bad](docs/guide.md#not-a-heading-either) [bad](code.ts#L1) [bad](#nowhere)",
        ].join("\n\n"),
      );
      expect(brokenLinks(root, markdownFiles(root))).toEqual([
        "README.md: missing.md (no such file)",
        "README.md: docs/guide.md#not-a-heading (no such heading)",
        "README.md: docs/guide.md#not-a-heading-either (no such heading)",
        "README.md: code.ts#L1 (a heading of a file that is not markdown)",
        "README.md: #nowhere (no such heading)",
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
