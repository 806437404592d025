// The OEE tab: each machine's availability, performance, quality and OEE for this shift and the
// last, a timeline of its states since the shift began, and its stops with a reason picker.
// Read from GET /api/v1/oee, /api/v1/oee/{device} and /api/v1/devices/{id}/stops; a reason is
// saved with PUT /api/v1/devices/{id}/stops/{stop_id} (a technician's token).
let api, t, el, $, lang;

const REFRESH_MS = 5000;
const FIGURES = [["availability", "oee.a"], ["performance", "oee.p"], ["quality", "oee.q"], ["oee", "oee.oee"]];
const OTHER = "__other";
let data = null; // {overview, details: {device: detail}, stops: {device: [stop]}}
let timer = null;

export function setupOee(deps) {
  ({ api, t, el, $, lang } = deps);
}

function visible() {
  return !$("#oee").hidden;
}

export async function loadOee() {
  clearTimeout(timer);
  if (!visible()) return;
  const overview = await api("GET", "/api/v1/oee");
  if (overview.status !== 200) {
    $("#oee-message").textContent = t("msg.failed", { detail: overview.data.detail });
  } else {
    const devices = overview.data.devices.map((d) => d.device);
    const details = {}, stops = {};
    await Promise.all(devices.map(async (device) => {
      const [detail, list] = await Promise.all([
        api("GET", `/api/v1/oee/${encodeURIComponent(device)}`),
        api("GET", `/api/v1/devices/${encodeURIComponent(device)}/stops`),
      ]);
      if (detail.status === 200) details[device] = detail.data;
      if (list.status === 200) stops[device] = list.data.stops;
    }));
    data = { overview: overview.data, details, stops };
    renderOee();
  }
  timer = setTimeout(loadOee, REFRESH_MS);
}

const percent = (v) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)}%`);
const clock = (ms) => new Date(ms).toLocaleTimeString(lang(), {
  hour: "2-digit", minute: "2-digit", timeZone: data.overview.timezone || undefined,
});
const minutes = (s) => (s < 120 ? `${Math.round(s)} s` : `${Math.round(s / 60)} min`);

function reasonLabel(code) {
  const found = data.overview.reasons.find((r) => r.code === code);
  if (found) return found[lang()] || found.en;
  if (code === "unknown") return t("oee.reason_unknown");
  if (code.startsWith("state ")) return t("oee.reason_state", { state: code.slice(6) });
  return code;
}

export function renderOee({ force = false } = {}) {
  const box = $("#oee-machines");
  if (!data || !visible()) return;
  // Never redraw a reason picker under the technician's hand (the refresh comes back later).
  if (!force && box.contains(document.activeElement) && document.activeElement.matches("select, input")) return;
  $("#oee-message").textContent = data.overview.devices.length ? "" : t("oee.none");
  box.replaceChildren(...data.overview.devices.map((m) => machineCard(m)));
}

function machineCard(machine) {
  const { device, current, previous } = machine;
  const detail = data.details[device];
  const shiftName = (f) => (f ? f.shift : "—");
  return el("div", { class: "card oee-card", "data-oee": device },
    el("h3", {}, device),
    el("table", { class: "oee-table" },
      el("thead", {}, el("tr", {},
        el("th", {}, ""),
        el("th", {}, t("oee.this_shift"), el("br"), el("small", {}, shiftName(current))),
        el("th", {}, t("oee.last_shift"), el("br"), el("small", {}, shiftName(previous))),
      )),
      el("tbody", {}, FIGURES.map(([key, label]) =>
        el("tr", { "data-figure": key },
          el("th", {}, t(label)),
          el("td", { class: "num current" }, percent(current && current[key])),
          el("td", { class: "num previous" }, percent(previous && previous[key])),
        ),
      )),
    ),
    current ? el("p", { class: "oee-counts" }, t("oee.counts", {
      run: minutes(current.run_s), down: minutes(current.downtime_s),
      total: current.total, good: current.good,
    })) : el("p", {}, t("oee.no_shift")),
    detail && current ? timeline(detail.timeline, current) : null,
    stopList(device, data.stops[device] || []),
  );
}

function timeline(segments, current) {
  const start = current.shift_start, end = Math.max(current.ts, start + 1);
  const bar = el("div", { class: "timeline", role: "img", "aria-label": t("oee.timeline") });
  let at = start;
  const pieces = [];
  if (segments.length && segments[0].start > start) pieces.push({ start, end: segments[0].start, condition: "unknown" });
  for (const s of segments) pieces.push({ ...s, end: s.end ?? end });
  for (const p of pieces) {
    const from = Math.max(p.start, at), to = Math.min(p.end, end);
    if (to <= from) continue;
    const part = el("span", {
      class: `seg c-${p.condition}`, "data-condition": p.condition,
      title: `${t(`oee.c.${p.condition}`)} ${clock(from)}–${clock(to)}`,
    });
    part.style.flexGrow = String(to - from); // CSSOM, allowed by the page's CSP
    bar.append(part);
    at = to;
  }
  const legend = el("p", { class: "legend" },
    ["running", "planned", "stopped", "unknown"].map((c) => el("span", { class: `key c-${c}` }, t(`oee.c.${c}`))));
  return el("div", {}, el("h4", {}, t("oee.timeline"), " ", el("small", {}, `${clock(start)}–${clock(end)}`)), bar, legend);
}

function stopList(device, stops) {
  return el("div", { class: "stops" },
    el("h4", {}, t("oee.stops")),
    stops.length ? el("ul", { class: "list" }, stops.map((s) => stopRow(device, s))) : el("p", {}, t("oee.no_stops")),
  );
}

function stopRow(device, stop) {
  const took = stop.end ? minutes((stop.end - stop.start) / 1000) : t("oee.ongoing");
  const select = el("select", { "aria-label": t("oee.reason"), class: "reason-pick" },
    el("option", { value: "" }, t("oee.pick")),
    data.overview.reasons.map((r) => el("option", { value: r.code, selected: r.code === stop.reason }, r[lang()] || r.en)),
    el("option", { value: OTHER }, t("oee.other")),
  );
  const text = el("input", { type: "text", class: "reason-text", maxlength: "200", hidden: true, "aria-label": t("oee.other") });
  const status = el("span", { class: "error", role: "status" });
  select.addEventListener("change", () => {
    text.hidden = select.value !== OTHER;
    if (!text.hidden) text.focus();
  });
  const save = el("button", {
    type: "button", class: "primary",
    onclick: async () => {
      const reason = select.value === OTHER ? text.value.trim() : select.value;
      if (!reason) return (status.textContent = t("oee.pick_first"));
      const r = await api("PUT", `/api/v1/devices/${encodeURIComponent(device)}/stops/${stop.id}`, { reason });
      if (r.status !== 200) return (status.textContent = t("msg.failed", { detail: r.data.detail }));
      stop.reason = r.data.reason;
      renderOee({ force: true });
    },
  }, t("oee.save"));
  return el("li", { "data-stop": String(stop.id) },
    el("span", {},
      el("strong", {}, `${clock(stop.start)} · ${took}`), " ",
      el("span", { class: "reason" }, reasonLabel(stop.reason))),
    select, text, save, status,
  );
}
