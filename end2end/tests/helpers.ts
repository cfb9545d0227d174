import { expect, Page, TestInfo } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const screenshotDir = path.join(__dirname, '..', 'screenshots');

/** What each page's browser said went wrong (console errors, uncaught
 * exceptions), so a page that never hydrates says why. */
const browserErrors = new WeakMap<Page, string[]>();

function listen(page: Page) {
  if (browserErrors.has(page)) return;
  const errors: string[] = [];
  browserErrors.set(page, errors);
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
}

/** Waits until the WASM has hydrated the page, so forms run as the app. */
export async function hydrated(page: Page) {
  listen(page);
  try {
    await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1, { timeout: 20_000 });
  } catch (e) {
    const said = browserErrors.get(page) ?? [];
    throw new Error(`${(e as Error).message}\nthe browser said:\n${said.join('\n') || '(nothing)'}`);
  }
}

/** Opens a path and waits for hydration. */
export async function open(page: Page, url: string) {
  listen(page);
  await page.goto(url);
  await hydrated(page);
}

/** Saves a full-page screenshot named after the viewport and the page. */
export async function shoot(page: Page, info: TestInfo, name: string) {
  fs.mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, `${info.project.name}-${name}.png`), fullPage: true });
}

/** Fails on serious or critical accessibility violations (axe-core). */
export async function accessible(page: Page, what: string) {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact}: ${v.id} — ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
  expect(bad, `accessibility violations on ${what}`).toEqual([]);
}

/** The setup code the server printed in its log at first start. */
export function setupCodeFromLog(project: string): string {
  const log = fs.readFileSync(path.join(__dirname, '..', 'test-results', 'servers', `${project}.log`), 'utf8');
  const m = log.match(/setup code ([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})/);
  if (!m) throw new Error(`no setup code in the ${project} server log:\n${log}`);
  return m[1];
}
