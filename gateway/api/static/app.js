// Gerbang web page: overview, live values, OEE and configuration, built on the HTTP API only.
// Plain JavaScript modules, no build step, no external assets (factory networks are offline).
import en from "./i18n/en.js";
import id from "./i18n/id.js";
import { loadDevices, renderConfigure, setupConfigure } from "./configure.js";
import { loadOee, renderOee, setupOee } from "./oee.js";
import { renderAlarms, setupAlarms } from "./alarms.js";
import { editing, loadWritable, setupWrites, writeControl } from "./writes.js";

const TEXTS = { en, id };
const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c);
  return node;
};

// ---- language -------------------------------------------------------------------------------
let lang = chooseLanguage();
function chooseLanguage() {
  const saved = localStorage.getItem("gerbang.lang");
  if (saved in TEXTS) return saved;
  for (const l of navigator.languages || [navigator.language || "en"]) {
    const base = l.toLowerCase().split("-")[0];
    if (base in TEXTS) return base;
    if (base === "in" || base === "ms") return "id";
  }
  return "en";
}
export function t(key, vars = {}) {
  let text = TEXTS[lang][key] ?? TEXTS.en[key] ?? key;
  for (const [k, v] of Object.entries(vars)) text = text.replaceAll(`{${k}}`, v);
  return text;
}
function applyLanguage() {
  document.documentElement.lang = lang;
  document.title = t("title");
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  updateTokenButton();
  renderAll();
}
$("#lang-switch").addEventListener("click", () => {
  lang = lang === "id" ? "en" : "id";
  localStorage.setItem("gerbang.lang", lang);
  applyLanguage();
});

// ---- token and API calls --------------------------------------------------------------------
const tokenKey = "gerbang.token";
const getToken = () => sessionStorage.getItem(tokenKey);
function updateTokenButton() {
  $("#token-button").textContent = t(getToken() ? "token.set" : "token.button");
}
function askToken() {
  return new Promise((resolve) => {
    const dialog = $("#token-dialog");
    $("#token-input").value = "";
    dialog.addEventListener(
      "close",
      () => {
        if (dialog.returnValue === "ok" && $("#token-input").value.trim()) {
          sessionStorage.setItem(tokenKey, $("#token-input").value.trim());
        } else if (dialog.returnValue === "forget") {
          sessionStorage.removeItem(tokenKey);
        }
        updateTokenButton();
        resolve(getToken());
      },
      { once: true },
    );
    dialog.showModal();
  });
}
$("#token-button").addEventListener("click", askToken);

// One API call; asks for the token when the gateway answers 401 (once per call).
async function api(method, path, body, { raw = false, headers = {}, retry = true } = {}) {
  const h = { ...headers };
  const token = getToken();
  if (token) h.Authorization = `Bearer ${token}`;
  if (body !== undefined && !h["Content-Type"]) h["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: h,
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
  } catch {
    return { status: 0, data: { detail: t("msg.network") } };
  }
  if (response.status === 401 && retry) {
    sessionStorage.removeItem(tokenKey);
    if (await askToken()) return api(method, path, body, { raw, headers, retry: false });
  }
  const data = raw && response.ok ? await response.text() : await response.json().catch(() => ({}));
  return { status: response.status, data, etag: response.headers.get("ETag") };
}

// ---- formatting -----------------------------------------------------------------------------
function ago(ms) {
  if (!ms) return t("never");
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 120) return t("ago.s", { n: s });
  if (s < 7200) return t("ago.m", { n: Math.round(s / 60) });
  return t("ago.h", { n: Math.round(s / 3600) });
}
function duration(s) {
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m ${Math.floor(s % 60)}s`;
}
function show(value) {
  if (value === null || value === undefined) return "—";
  // Numbers arrive written as a person would (gateway/numbers.py): show them as they are.
  return String(value);
}
function sparkline(points) {
  const nums = points.filter((p) => typeof p === "number");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 100 20");
  svg.setAttribute("preserveAspectRatio", "none");
  if (nums.length < 2) return svg;
  const min = Math.min(...nums), max = Math.max(...nums), span = max - min;
  const step = 100 / Math.max(1, points.length - 1);
  let d = "", pen = "M";
  points.forEach((p, i) => {
    if (typeof p !== "number") { pen = "M"; return; }
    const y = span ? 18 - ((p - min) / span) * 16 : 10; // a steady value: a line in the middle
    d += `${pen}${(i * step).toFixed(1)},${y.toFixed(1)} `;
    pen = "L";
  });
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", d);
  svg.append(path);
  return svg;
}

// ---- live state from GET /api/v1/events -----------------------------------------------------
const state = { status: null, values: {}, trends: {}, trendTs: [] };
const TREND_POINTS = 120;

async function live() {
  for (;;) {
    try {
      const headers = {};
      if (getToken()) headers.Authorization = `Bearer ${getToken()}`;
      const response = await fetch("/api/v1/events", { headers });
      if (response.status === 401) await askToken();
      else if (response.ok) await readEvents(response.body.getReader());
    } catch {
      /* the gateway restarted or the network dropped: retry below */
    }
    $("#live").className = "live off";
    $("#live").textContent = t("live.lost");
    await new Promise((r) => setTimeout(r, 2000));
  }
}
async function readEvents(reader) {
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (data) onEvent(name, JSON.parse(data));
    }
  }
}
function onEvent(name, data) {
  $("#live").className = "live on";
  $("#live").textContent = t("live.connected");
  if (name === "status") {
    state.status = data;
    renderOverview();
    renderValues();
  } else if (name === "values") {
    for (const [device, signals] of Object.entries(data.devices)) {
      state.values[device] = { ...(state.values[device] || {}), ...signals };
    }
    for (const device of Object.keys(state.values)) {
      if (state.status && !state.status.devices.some((d) => d.id === device)) delete state.values[device];
    }
  } else if (name === "trends") {
    state.trends = data.devices;
  } else if (name === "trend") {
    for (const [device, signals] of Object.entries(data.devices)) {
      const mine = (state.trends[device] ||= {});
      for (const [signal, v] of Object.entries(signals)) {
        const series = (mine[signal] ||= []);
        series.push(v);
        if (series.length > TREND_POINTS) series.shift();
      }
    }
  }
}

// ---- overview -------------------------------------------------------------------------------
function renderOverview() {
  const s = state.status;
  if (!s) return;
  $("#gw-name").textContent = s.gateway_id;
  $("#gw-id").textContent = s.gateway_id;
  $("#gw-version").textContent = s.version;
  $("#gw-uptime").textContent = duration(s.uptime_s);
  $("#gw-place").textContent = [s.site, s.area, s.line].filter(Boolean).join(" / ") || "—";
  const devices = $("#devices");
  devices.replaceChildren(
    ...(s.devices.length ? [] : [el("p", {}, t("devices.none"))]),
    ...s.devices.map((d) =>
      el("div", { class: `card st-${d.state}`, "data-device": d.id },
        el("h3", {}, d.id, " ", el("small", {}, d.protocol)),
        el("dl", {},
          el("dt", {}, t("dev.state")),
          el("dd", {}, el("span", { class: `state st-${d.state}`, "data-state": d.state }, t(`state.${d.state}`))),
          el("dt", {}, t("dev.last_poll")), el("dd", {}, ago(d.last_poll)),
          el("dt", {}, t("dev.latency")), el("dd", {}, d.latency_ms == null ? "—" : `${d.latency_ms.toFixed(1)} ms`),
          el("dt", {}, t("dev.reads")), el("dd", {}, `${d.polls_ok} / ${d.polls_failed}`),
          d.last_error && d.state !== "online" ? [el("dt", {}, t("dev.error")), el("dd", { class: "problem" }, d.last_error)] : null,
          Object.entries(d.signal_errors).map(([sig, msg]) => [el("dt", {}, sig), el("dd", { class: "problem" }, msg)]),
        ),
      ),
    ),
  );
  $("#sinks").replaceChildren(
    ...s.sinks.map((k) =>
      el("div", { class: `card st-${k.connected ? "online" : "error"}`, "data-sink": k.name },
        el("h3", {}, k.name),
        el("dl", {},
          el("dt", {}, t("dev.state")),
          el("dd", {}, el("span", { class: `state st-${k.connected ? "online" : "error"}` }, t(k.connected ? "sink.connected" : "sink.disconnected"))),
          el("dt", {}, t("sink.backlog")), el("dd", {}, String(k.backlog)),
          el("dt", {}, t("sink.dropped")), el("dd", {}, String(k.dropped)),
          k.last_error && !k.connected ? [el("dt", {}, t("sink.error")), el("dd", { class: "problem" }, k.last_error)] : null,
        ),
      ),
    ),
  );
}

// ---- live values ----------------------------------------------------------------------------
function renderValues(force = false) {
  const box = $("#values");
  // A value being typed into a write field stays put; a write's answer is shown at once.
  if (box.hidden || (editing() && force !== true)) return;
  const devices = Object.keys(state.values).sort();
  if (!devices.length) return box.replaceChildren(el("p", {}, t("values.none")));
  const read = lastReads();
  box.replaceChildren(
    ...devices.map((device) =>
      el("div", { class: "card", "data-values": device },
        el("h3", {}, device),
        el("table", { class: "values-table" },
          el("thead", {}, el("tr", {}, ...["values.signal", "values.value", "values.quality", "values.age", "values.trend", "values.write"].map((k) => el("th", {}, t(k))))),
          el("tbody", {},
            Object.entries(state.values[device]).map(([name, v]) =>
              el("tr", { "data-signal": name },
                el("td", {}, name),
                el("td", { class: "num value" }, `${show(v.value)}${v.unit ? " " + v.unit : ""}`),
                el("td", { class: `q-${v.quality}`, title: v.error || "" }, t(`quality.${v.quality}`)),
                el("td", { class: "age" }, ...age(read[device], v)),
                el("td", {}, sparkline([...((state.trends[device] || {})[name] || []), typeof v.value === "number" ? v.value : null])),
                el("td", { class: "write-cell" }, writeControl(device, name, v.value)),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

// A value is published when it changes (and again at its heartbeat, 60 s by default), so its
// own time can be long past while its device was read a moment ago: say "unchanged" then, with
// the device's last read, so that a steady value does not look stale.
const UNCHANGED_AFTER_MS = 5000;
function lastReads() {
  const read = {}; // device -> its last read, while it is online
  for (const d of (state.status && state.status.devices) || []) if (d.state === "online") read[d.id] = d.last_poll;
  return read;
}
function age(read, v) {
  if (!read || !v.ts || v.quality === "bad" || read - v.ts < UNCHANGED_AFTER_MS) return [ago(v.ts)];
  return [ago(v.ts), " ", el("small", { class: "unchanged" }, t("values.unchanged", { ago: ago(read) }))];
}

// ---- tabs -----------------------------------------------------------------------------------
function showTab() {
  const tab = (location.hash || "#overview").slice(1);
  for (const section of document.querySelectorAll(".tab")) section.hidden = section.id !== tab;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.tab === tab);
  if (tab === "configure") loadDevices();
  if (tab === "oee") loadOee();
  if (tab === "values") loadWritable().then(renderValues);
  renderValues();
}
window.addEventListener("hashchange", showTab);
document.addEventListener("gerbang:write", () => renderValues(true)); // a write's answer, in its row

function renderAll() {
  renderOverview();
  renderValues();
  renderConfigure();
  renderOee();
  renderAlarms();
}

setupConfigure({ api, t, el, $, askToken });
setupOee({ api, t, el, $, lang: () => lang });
setupAlarms({ api, t, el, $, ago, lang: () => lang });
setupWrites({ api, t, el, $, askToken, getToken });
applyLanguage();
showTab();
live();
