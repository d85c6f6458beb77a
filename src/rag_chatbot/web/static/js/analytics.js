/**
 * The admin page's analytics (GET /api/admin/analytics/*): the summary with a chart of
 * questions and the unanswered share per day, the coverage gaps (each opens on its questions
 * and nearest pages), the top questions and page usage; each report downloads as CSV.
 *
 * The chart is Chart.js, shipped in /static/vendor (its UMD build defines `Chart`); its
 * colours are the theme's, read again when the system switches between light and dark.
 */

import "../vendor/chartjs/chart.umd.min.js";
import { h } from "./dom.js";

const PAGE = 10;
const CSV_ROWS = 1000;
const $ = (id) => document.getElementById(id);
const percent = (share) => `${(share * 100).toFixed(share && share < 0.1 ? 1 : 0)} %`;
const dark = window.matchMedia("(prefers-color-scheme: dark)");

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "—";
}

function documentLink(page) {
  return h("a", { href: page.url }, page.title || page.source);
}

export class Analytics {
  constructor(api) {
    this.api = api;
    this.chart = null;
    this.perDay = [];
    this.offsets = { gaps: 0, topics: 0 };
    $("analytics-days").addEventListener("change", () => this.load());
    $("analytics-refresh").addEventListener("click", () => this.load());
    $("gaps-more").addEventListener("click", () => this.gaps(false));
    $("topics-more").addEventListener("click", () => this.topics(false));
    for (const button of document.querySelectorAll("button.csv")) {
      button.addEventListener("click", () => this.download(button.dataset.report, button));
    }
    dark.addEventListener("change", () => this.draw());
  }

  /** The period's query: whole UTC days up to today. */
  query(extra = {}) {
    const last = new Date();
    const first = new Date(last.getTime() - (Number($("analytics-days").value) - 1) * 86400000);
    const params = new URLSearchParams({ from: isoDay(first), to: isoDay(last), ...extra });
    return params.toString();
  }

  async load() {
    this.status("Loading…");
    try {
      await Promise.all([this.summary(), this.gaps(true), this.topics(true), this.pages()]);
      this.status("");
    } catch (error) {
      this.status(`Analytics could not be loaded: ${error.message}`, true);
    }
  }

  status(text, isError = false) {
    const el = $("analytics-status");
    el.textContent = text;
    el.classList.toggle("error-text", isError);
  }

  async summary() {
    const report = await this.api.request("GET", `/api/admin/analytics/summary?${this.query()}`);
    const latency = report.latency_ms;
    const facts = [
      ["Questions", String(report.questions)],
      ["Readers", String(report.askers)],
      ["Unanswered", `${report.unanswered} (${percent(report.unanswered_rate)})`],
      ["Feedback", `${report.feedback.up} up, ${report.feedback.down} down`],
      ["Cache hits", percent(report.cache_hit_rate)],
      ["Latency", latency.p50 === null ? "—"
        : `${Math.round(latency.p50)} ms median, ${Math.round(latency.p95)} ms p95`],
    ];
    $("analytics-summary").replaceChildren(...facts.flatMap(([term, value]) =>
      [h("dt", {}, term), h("dd", {}, value)]));
    this.perDay = report.per_day;
    this.draw();
  }

  /** (Re)draw the chart in the theme's current colours. */
  draw() {
    const Chart = globalThis.Chart;
    if (!Chart || !this.perDay.length) return;
    const css = getComputedStyle(document.documentElement);
    const colour = (name) => css.getPropertyValue(name).trim();
    const [text, muted, grid] = [colour("--text"), colour("--muted"), colour("--border")];
    if (this.chart) this.chart.destroy();
    this.chart = new Chart($("analytics-chart"), {
      data: {
        labels: this.perDay.map((day) => day.date),
        datasets: [
          { type: "bar", label: "Questions", data: this.perDay.map((d) => d.questions),
            backgroundColor: colour("--accent"), yAxisID: "y", order: 2 },
          { type: "line", label: "Unanswered (%)",
            data: this.perDay.map((d) => Math.round(d.unanswered_rate * 1000) / 10),
            borderColor: colour("--danger"), backgroundColor: colour("--danger"),
            yAxisID: "share", order: 1, pointRadius: 2, tension: 0.2 },
        ],
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { labels: { color: text } } },
        scales: {
          x: { ticks: { color: muted, maxRotation: 0, autoSkipPadding: 12 }, grid: { color: grid } },
          y: { beginAtZero: true, ticks: { color: muted, precision: 0 }, grid: { color: grid },
            title: { display: true, text: "questions", color: muted } },
          share: { position: "right", min: 0, max: 100, grid: { drawOnChartArea: false },
            ticks: { color: muted, callback: (value) => `${value} %` } },
        },
      },
    });
  }

  async gaps(first) {
    if (first) this.offsets.gaps = 0;
    const report = await this.api.request("GET",
      `/api/admin/analytics/gaps?${this.query({ limit: PAGE, offset: this.offsets.gaps })}`);
    const items = report.gaps.map((gap) => gapItem(gap));
    if (first) {
      $("analytics-gaps").replaceChildren(...items);
      if (!items.length) {
        $("analytics-gaps").append(h("li", { class: "muted" },
          "No gaps: every question in this period was answered and none was rated down."));
      }
    } else $("analytics-gaps").append(...items);
    this.offsets.gaps += report.gaps.length;
    $("gaps-more").hidden = this.offsets.gaps >= report.total;
  }

  async topics(first) {
    if (first) this.offsets.topics = 0;
    const report = await this.api.request("GET",
      `/api/admin/analytics/questions?${this.query({ limit: PAGE, offset: this.offsets.topics })}`);
    const body = $("analytics-topics").tBodies[0];
    const rows = report.topics.map((topic) => h("tr", {},
      h("td", {}, h("div", {}, topic.label),
        topic.questions.length > 1
          ? h("div", { class: "muted small" }, `${topic.questions.length} ways of asking`) : null),
      h("td", { class: "num" }, String(topic.count)),
      h("td", { class: "num" }, percent(topic.answered_share)),
      h("td", {}, ...topic.pages.flatMap((page, i) =>
        [i ? ", " : "", documentLink(page), ` (${page.count})`]))));
    if (first) body.replaceChildren(...rows);
    else body.append(...rows);
    if (first && !rows.length) {
      body.append(h("tr", {}, h("td", { colspan: "4", class: "muted" }, "No questions yet.")));
    }
    this.offsets.topics += report.topics.length;
    $("topics-more").hidden = this.offsets.topics >= report.total;
  }

  async pages() {
    const report = await this.api.request("GET",
      `/api/admin/analytics/pages?${this.query({ limit: 100 })}`);
    const rows = report.pages.map((page) => h("tr", {},
      h("td", {}, page.indexed ? documentLink(page) : h("span", {}, page.source),
        h("div", { class: "muted small" }, page.indexed ? page.source : "no longer indexed")),
      h("td", { class: "num" }, String(page.cited)),
      h("td", { class: "num" }, String(page.up)),
      h("td", { class: "num" }, String(page.down))));
    $("analytics-pages").tBodies[0].replaceChildren(...rows);
    const unused = report.never_cited.map((page) => h("li", {}, documentLink(page)));
    if (report.never_cited_total > unused.length) {
      unused.push(h("li", { class: "muted" },
        `and ${report.never_cited_total - unused.length} more (in the CSV)`));
    }
    $("analytics-unused").replaceChildren(...(unused.length ? unused
      : [h("li", { class: "muted" }, "Every document was cited.")]));
  }

  /** Fetch a report as CSV (the API needs the credentials) and hand it to the browser. */
  async download(report, button) {
    button.disabled = true;
    try {
      const response = await this.api.fetch("GET",
        `/api/admin/analytics/${report}?${this.query({ format: "csv", limit: CSV_ROWS })}`);
      const named = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") || "");
      const url = URL.createObjectURL(await response.blob());
      const link = h("a", { href: url, download: named ? named[1] : `${report}.csv` });
      document.body.append(link);
      link.click();
      link.remove();
      window.setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (error) {
      this.status(`The CSV could not be downloaded: ${error.message}`, true);
    } finally {
      button.disabled = false;
    }
  }
}

function gapItem(gap) {
  const nearest = gap.nearest.length
    ? h("ul", { class: "nearest" }, ...gap.nearest.map((page) => h("li", {},
      documentLink(page), page.section && page.section !== page.title
        ? h("span", { class: "muted" }, ` — ${page.section}`) : null)))
    : h("p", { class: "muted" }, "No page comes close.");
  const kinds = [gap.unanswered && `${gap.unanswered} unanswered`,
    gap.disliked && `${gap.disliked} rated down`].filter(Boolean).join(", ");
  return h("li", { class: "gap", dataset: { status: gap.status, id: String(gap.id) } },
    h("details", {},
      h("summary", {},
        h("span", { class: "gap-label" }, gap.label),
        h("span", { class: "badge gap-count", title: kinds }, `${gap.count} question${gap.count === 1 ? "" : "s"}`),
        h("span", { class: `badge status-${gap.status}` }, gap.status)),
      h("div", { class: "gap-body" },
        gap.keywords.length
          ? h("p", { class: "muted small" }, `Distinctive words: ${gap.keywords.join(", ")}`) : null,
        h("h3", { class: "subhead" }, "Questions"),
        h("ul", { class: "gap-questions" }, ...gap.questions.map((q) => h("li", {}, q))),
        h("h3", { class: "subhead" }, "Nearest pages"),
        nearest,
        h("p", { class: "muted small" },
          `${kinds}; first ${when(gap.first_seen)}, last ${when(gap.last_seen)}.`))));
}
