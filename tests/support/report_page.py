"""The operations report as Debian's Chromium shows it (headless, through playwright, no browser download)."""
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"

# Per chart: its size on the page, the points the filter says it drew, and those the browser lays out.
CHARTS_JS = """figures => figures.map(figure => {
  const svg = figure.querySelector('svg.review-chart');
  const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  const points = svg ? [...svg.querySelectorAll('.data-point')] : [];
  return {article: figure.closest('article').id, series: figure.dataset.series, svg: !!svg,
          width: box.width, height: box.height, declared: svg ? Number(svg.dataset.points) : 0,
          drawn: points.length,
          visible: points.filter(p => { const b = p.getBoundingClientRect(); return b.width > 0 && b.height > 0; }).length,
          empty: !!figure.querySelector('.review-chart-empty')};
})"""


def browse(path, screenshot, inspect=None):
    """What Chromium shows: console and page errors, requests, charts, status rows, the "Not included" text, and
    a full-page screenshot; `inspect(page, seen)` adds what a test needs besides."""
    seen = {"errors": [], "requests": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda message: seen["errors"].append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: seen["errors"].append(str(error)))
            page.on("request", lambda request: seen["requests"].append(request.url))
            page.goto(path.as_uri(), wait_until="load")
            seen["charts"] = page.eval_on_selector_all("figure.chart", CHARTS_JS)
            seen["status_rows"] = page.eval_on_selector_all(
                "table.status tbody tr", "rows => rows.map(r => [r.dataset.host, r.innerText])")
            seen["not_included"] = page.inner_text("#not-included") if page.locator("#not-included").count() else ""
            if inspect:
                inspect(page, seen)
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    seen["screenshot"] = screenshot
    return seen
