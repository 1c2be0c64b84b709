// The chosen collection's synced sources: each one's last sync and counts, and a "Sync now" button.

import { call, path } from "./api.js";
import { $, el, errorNode, formatDate, webLink } from "./dom.js";

const COUNTS = ["added", "changed", "removed", "unchanged", "failed"];

function sourceRow(collection, source, reload) {
  const counts = COUNTS.map((name) => `${source.counts[name]} ${name}`).join(" · ");
  const running = source.job_status === "queued" || source.job_status === "running";
  const status = running ? `sync ${source.job_status}` : source.last_status || "never synced";
  const button = el("button", { type: "button", disabled: running }, running ? "Syncing…" : "Sync now");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await call("POST", `${path.sources(collection)}/${encodeURIComponent(source.id)}/sync`);
    } catch (error) {
      $("#sources-table").before(errorNode(error));
    }
    reload();
  });
  return el(
    "tr",
    {},
    el("td", {}, source.kind),
    el("td", { class: "wrap" }, webLink(source.location) || source.location),
    el("td", {}, source.last_sync_at ? formatDate(source.last_sync_at) : "never"),
    el("td", {}, status, source.last_error ? el("div", { class: "error" }, source.last_error) : null),
    el("td", {}, counts),
    el("td", {}, source.next_run_at ? formatDate(new Date(source.next_run_at * 1000).toISOString()) : "when asked"),
    el("td", {}, button),
  );
}

/** Show the sources of `collection`; while a sync runs, look again every few seconds. */
export async function loadSources(collection) {
  const body = $("#sources-table").tBodies[0];
  try {
    const { sources } = await call("GET", path.sources(collection));
    const reload = () => loadSources(collection);
    body.replaceChildren(...sources.map((source) => sourceRow(collection, source, reload)));
    $("#sources-empty").hidden = sources.length > 0;
    $("#sources-table").hidden = sources.length === 0;
    if (sources.some((s) => s.job_status === "queued" || s.job_status === "running")) setTimeout(reload, 3000);
  } catch (error) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 7 }, errorNode(error))));
  }
}
