// The alarms (SPEC "Alarms"): a banner on every tab with the count of active alarms, and the
// Alarms tab: what needs attention (active first, by severity) and the recent changes, each
// acknowledged with the technician token. Visual only, never a sound: the page must not startle
// anyone on a loud floor, and a phone in a pocket must stay silent.
// Read from GET /api/v1/alarms every POLL_MS (a few hundred bytes), and at once after an ack.
let api, t, el, $, ago, lang;
let data = null;
const POLL_MS = 2000;
const SEVERITY = ["high", "medium", "low"];

export function setupAlarms(deps) {
  ({ api, t, el, $, ago, lang } = deps);
  poll();
}

async function poll() {
  for (;;) {
    await refreshAlarms();
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

export async function refreshAlarms() {
  // No token dialog from here: where reads need a token, the live stream asks for it.
  const { status, data: body } = await api("GET", "/api/v1/alarms", undefined, { retry: false });
  if (status === 200) {
    data = body;
    renderAlarms();
  }
}

const keyOf = (a) => `${a.device}/${a.alarm}`;
const text = (a) => (a.message && (a.message[lang()] || a.message.en)) || "";
function worst(alarms) {
  return SEVERITY.find((s) => alarms.some((a) => a.severity === s)) || "low";
}

export function renderAlarms() {
  if (!data) return;
  const active = data.active.filter((a) => a.state === "active");
  const waiting = data.active.filter((a) => !a.acknowledged).length;
  const banner = $("#alarm-banner");
  banner.hidden = active.length === 0;
  banner.className = `alarm-banner sev-${worst(active)}`;
  banner.textContent = active.length
    ? [t(active.length === 1 ? "alarms.banner_one" : "alarms.banner", { n: active.length }),
       waiting ? t("alarms.banner_unacked", { n: waiting }) : ""].filter(Boolean).join(" · ")
    : "";
  $("#alarm-count").textContent = active.length ? ` (${active.length})` : "";

  $("#alarm-list").replaceChildren(
    ...(data.active.length ? [] : [el("li", { class: "none" }, t("alarms.none"))]),
    ...data.active.map((a) =>
      el("li", { class: `alarm sev-${a.severity} st-${a.state}`, "data-alarm": keyOf(a) },
        el("span", { class: `sev sev-${a.severity}` }, t(`sev.${a.severity}`)),
        el("span", { class: "what" },
          el("strong", {}, a.alarm), " ", el("small", {}, [a.device, a.signal].filter(Boolean).join(" · ")),
          text(a) ? el("span", { class: "msg" }, text(a)) : null),
        el("span", { class: "when" },
          el("span", { class: "alarm-state" }, t(`alarm.${a.state}`)), " ", ago(a.since),
          a.value === null ? null : el("span", { class: "num" }, ` · ${a.value}`)),
        a.acknowledged
          ? el("span", { class: "acked" }, t("alarms.acked_by", { who: a.acknowledged_by || "—" }))
          : el("button", { type: "button", class: "ack primary", onclick: () => acknowledge(a) }, t("alarms.ack")),
      ),
    ),
  );
  $("#alarm-history").replaceChildren(
    ...data.history.map((a) =>
      el("tr", { "data-alarm": keyOf(a) },
        el("td", {}, new Date(a.ts).toLocaleString(lang())),
        el("td", {}, a.device),
        el("td", {}, a.alarm),
        el("td", {}, t(`alarm.${a.state}`), a.acknowledged && a.acknowledged_by ? ` · ${t("alarms.acked_by", { who: a.acknowledged_by })}` : ""),
        el("td", { class: "num" }, a.value === null ? "—" : String(a.value)),
      ),
    ),
  );
}

async function acknowledge(alarm) {
  const path = `/api/v1/alarms/${encodeURIComponent(alarm.device)}/${encodeURIComponent(alarm.alarm)}/ack`;
  const { status, data: body } = await api("POST", path);
  const message = $("#alarm-message");
  if (status === 200) {
    message.className = "message good";
    message.textContent = t("alarms.acked", { alarm: alarm.alarm, device: alarm.device });
  } else {
    message.className = "message bad";
    message.textContent = status === 401 ? t("msg.unauthorized") : t("msg.failed", { detail: body.detail || status });
  }
  await refreshAlarms();
}
