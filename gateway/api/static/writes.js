// Write controls of the live values tab: a signal whose config says `writable: true` gets a
// number field with its min/max (a switch for a bool). A write asks for the token when none is
// entered, then for a confirmation naming machine, signal and value, and shows what the gateway
// answered: the read-back, or its error (422 refused, 502 read back differently, 504 no answer).
// The checks themselves are the gateway's (POST .../signals/{signal}/write); the page only helps.
let api, t, el, $, askToken, getToken;

let writable = {}; // device -> signal -> {min, max, bool}
const drafts = new Map(); // "device/signal" -> the number typed and not yet written
const results = new Map(); // "device/signal" -> {ok, text}, the last answer shown in the row

export function setupWrites(deps) {
  ({ api, t, el, $, askToken, getToken } = deps);
}

// Which signals are writable, from the config (GET /api/v1/devices); again on each tab visit.
export async function loadWritable() {
  const r = await api("GET", "/api/v1/devices");
  if (r.status !== 200) return false;
  writable = {};
  for (const d of r.data) {
    for (const s of d.signals || []) {
      if (!s.writable) continue;
      const bool = s.type === "bool" || s.table === "coil" || s.table === "discrete";
      (writable[d.id] ||= {})[s.name] = { min: s.min, max: s.max, bool };
    }
  }
  return true;
}

// The user is typing into a write field: the table must not be rebuilt under their fingers.
export function editing() {
  const a = document.activeElement;
  return Boolean(a && a.closest && a.closest(".write") && a.matches("input"));
}

// The control cell of one row, or null when the signal is not writable.
export function writeControl(device, signal, current) {
  const spec = (writable[device] || {})[signal];
  if (!spec) return null;
  const key = `${device}/${signal}`;
  const bool = spec.bool || typeof current === "boolean";
  const result = results.get(key);
  const shown = result
    ? el("span", { class: `write-result ${result.ok ? "good" : "bad"}`, role: "status" }, result.text)
    : null;
  if (bool) {
    const toggle = el("input", {
      type: "checkbox", role: "switch", class: "switch", "aria-label": t("write.switch", { signal }),
      checked: current === true,
      onchange: (e) => {
        const wanted = e.target.checked;
        e.target.checked = !wanted; // unchanged until the machine reads back
        submit(device, signal, wanted);
      },
    });
    return el("div", { class: "write" }, toggle, shown);
  }
  const limits = [spec.min, spec.max].every((x) => x === null || x === undefined)
    ? t("write.no_limits")
    : t("write.limits", { min: spec.min ?? "…", max: spec.max ?? "…" });
  const field = el("input", {
    type: "number", step: "any", inputmode: "decimal", min: spec.min ?? undefined, max: spec.max ?? undefined,
    "aria-label": t("write.field", { signal }), title: limits,
    placeholder: spec.min ?? spec.max ?? "",
    oninput: (e) => drafts.set(key, e.target.value),
    onkeydown: (e) => {
      if (e.key !== "Enter") return;
      e.preventDefault(); // else the same key press would confirm the dialog it opens
      send();
    },
  });
  field.value = drafts.get(key) ?? "";
  function send() {
    const text = field.value.trim();
    const value = Number(text);
    if (!text || !Number.isFinite(value)) {
      results.set(key, { ok: false, text: t("write.not_number") });
      return rerender(device);
    }
    submit(device, signal, value);
  }
  const button = el("button", { type: "button", class: "write-set", onclick: send }, t("write.set"));
  return el("div", { class: "write" }, field, button, el("small", { class: "limits" }, limits), shown);
}

function rerender(device) {
  document.dispatchEvent(new CustomEvent("gerbang:write", { detail: { device } }));
}

function confirmWrite(device, signal, value) {
  return new Promise((resolve) => {
    const dialog = $("#write-dialog");
    $("#write-question").textContent = t("write.confirm", { device, signal, value: String(value) });
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}

async function submit(device, signal, value) {
  const key = `${device}/${signal}`;
  if (!getToken() && !(await askToken())) return;
  if (!(await confirmWrite(device, signal, value))) return;
  results.set(key, { ok: true, text: t("write.sending") });
  rerender(device);
  const path = `/api/v1/devices/${encodeURIComponent(device)}/signals/${encodeURIComponent(signal)}/write`;
  const r = await api("POST", path, { value });
  if (r.status === 200) {
    drafts.delete(key);
    results.set(key, { ok: true, text: t("write.done", { value: String(r.data.read_back) }) });
  } else {
    const detail = typeof r.data.detail === "string" ? r.data.detail : JSON.stringify(r.data.detail ?? r.data);
    results.set(key, { ok: false, text: t("write.failed", { status: String(r.status), detail }) });
  }
  rerender(device);
}
