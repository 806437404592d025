// The Configure tab: machines added, edited and deleted in a form, or the whole config as YAML.
// Validation is the gateway's own (HTTP 422 `errors`: path + message), shown beside the field.
let api, t, el, $, askToken;

const PROTOCOL_FIELDS = {
  "modbus-tcp": [["host", "text"], ["port", "number"], ["unit", "number"]],
  "modbus-rtu": [["serial_port", "text"], ["baudrate", "number"], ["parity", ["N", "E", "O"]],
    ["stopbits", ["1", "2"]], ["unit", "number"]],
  opcua: [["endpoint", "text"], ["username", "text"], ["password", "password"], ["subscribe", "checkbox"]],
  s7: [["host", "text"], ["port", "number"], ["rack", "number"], ["slot", "number"]],
  mc: [["host", "text"], ["port", "number"]],
};
const COMMON_FIELDS = [["interval", "text"], ["timeout", "text"]];
const TABLES = ["holding", "input", "coil", "discrete"];
const TYPES = ["", "bool", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64", "string"];
const SIGNAL_COLUMNS = {
  modbus: [["name", "text"], ["table", TABLES], ["address", "number"], ["type", TYPES], ["scale", "number"], ["unit", "text"]],
  opcua: [["name", "text"], ["node", "text"], ["unit", "text"]],
  // Addresses as the maker's tools write them: DB1.DBD0, MW20, I0.3 (S7); D100, M10, X1A (MC).
  s7: [["name", "text"], ["address", "text"], ["type", [...TYPES.slice(0, 2), "int8", "uint8", ...TYPES.slice(2)]],
    ["length", "number"], ["scale", "number"], ["unit", "text"]],
  mc: [["name", "text"], ["address", "text"], ["type", TYPES], ["length", "number"], ["scale", "number"], ["unit", "text"]],
};
const FAMILY = { opcua: "opcua", s7: "s7", mc: "mc" }; // the rest: modbus
const NUMERIC = new Set(["port", "unit", "baudrate", "stopbits", "address", "scale", "rack", "slot", "length"]);

let devices = [];
let etag = null;
let editing = null; // {original: entry or null, draft: entry}

export function setupConfigure(deps) {
  ({ api, t, el, $, askToken } = deps);
  $("#add-device").addEventListener("click", () => openForm(null));
  $("#yaml-box").addEventListener("toggle", () => $("#yaml-box").open && loadYaml());
  $("#yaml-save").addEventListener("click", saveYaml);
}

function message(text, good) {
  const m = $("#cfg-message");
  m.textContent = text;
  m.className = `message ${good ? "good" : "bad"}`;
}

export async function loadDevices() {
  const r = await api("GET", "/api/v1/devices");
  if (r.status !== 200) return message(t("msg.failed", { detail: r.data.detail }), false);
  devices = r.data;
  etag = r.etag;
  renderList();
}

function renderList() {
  $("#cfg-devices").replaceChildren(
    ...devices.map((d) =>
      el("li", { "data-device": d.id },
        el("span", {}, el("strong", {}, d.id), " ", d.protocol),
        el("button", { type: "button", onclick: () => openForm(d) }, t("cfg.edit")),
        el("button", { type: "button", onclick: () => remove(d.id) }, t("cfg.delete")),
      ),
    ),
  );
}

export function renderConfigure() {
  if (!$) return;
  renderList();
  if (editing) {
    editing.draft = collect();
    renderForm();
  }
}

function openForm(entry) {
  const draft = entry ? structuredClone(entry) : { id: "", protocol: "modbus-tcp", interval: "1s", signals: [{}] };
  editing = { original: entry, draft };
  document.querySelector("#browse-tree")?.remove(); // another machine's tree
  renderForm();
  $("#device-form").scrollIntoView({ block: "start" });
}

function input(path, kind, value) {
  const common = { id: `f-${path}`, "data-path": path, name: path };
  if (Array.isArray(kind)) {
    return el("select", common, kind.map((o) => el("option", { value: o, selected: String(value ?? "") === o }, o || "—")));
  }
  if (kind === "checkbox") return el("input", { ...common, type: "checkbox", checked: value !== false });
  return el("input", { ...common, type: kind === "number" ? "text" : kind, inputmode: kind === "number" ? "decimal" : null,
    value: value ?? "" });
}

function field(name, kind, value) {
  return el("div", { class: "field" },
    el("label", { for: `f-${name}` }, t(`form.${name}`)),
    input(name, kind, value),
    name === "interval" || name === "timeout" ? el("small", { class: "help" }, t("form.interval_help")) : null,
    el("small", { class: "error", "data-error-for": name }),
  );
}

function renderForm() {
  const d = editing.draft;
  const form = $("#device-form");
  form.hidden = false;
  const family = FAMILY[d.protocol] || "modbus";
  const columns = SIGNAL_COLUMNS[family];
  const protocol = input("protocol", Object.keys(PROTOCOL_FIELDS), d.protocol);
  protocol.addEventListener("change", () => {
    const before = d.protocol;
    editing.draft = switched(collect(), before);
    renderForm();
  });
  const tree = document.querySelector("#browse-tree") || el("div", { class: "tree", id: "browse-tree" });
  const parts = [
    el("h2", {}, editing.original ? t("form.edit", { id: editing.original.id }) : t("form.new")),
    el("p", { class: "error", "data-error-for": "" }),
    editing.original ? null : field("id", "text", d.id),
    el("div", { class: "field" }, el("label", { for: "f-protocol" }, t("form.protocol")), protocol,
      el("small", { class: "error", "data-error-for": "protocol" })),
    ...PROTOCOL_FIELDS[d.protocol].map(([name, kind]) => field(name, kind, d[name])),
    ...COMMON_FIELDS.map(([name, kind]) => field(name, kind, d[name])),
    el("h3", {}, t("form.signals")),
    el("table", { class: "signals" },
      el("thead", {}, el("tr", {}, columns.map(([c]) => el("th", {}, t(`form.sig.${c}`))), el("th"))),
      el("tbody", {},
        (d.signals || []).map((s, i) =>
          el("tr", { "data-row": i },
            columns.map(([c, kind]) =>
              el("td", {}, input(`signals[${i}].${c}`, kind, s[c]),
                el("small", { class: "error", "data-error-for": `signals[${i}].${c}` }))),
            el("td", {}, el("button", { type: "button", onclick: () => removeSignal(i) }, t("form.sig.remove")),
              el("small", { class: "error", "data-error-for": `signals[${i}]` })),
          ),
        ),
      ),
    ),
    el("p", { class: "error", "data-error-for": "signals" }),
    el("div", { class: "buttons" },
      el("button", { type: "button", onclick: addSignal }, t("form.sig.add")),
      family === "opcua" ? el("button", { type: "button", id: "browse-button", onclick: browse }, t("form.browse")) : null,
    ),
    tree, // kept when the form is redrawn (a signal picked from it, a protocol changed)
    el("div", { id: "test-result" }),
    el("div", { class: "buttons" },
      el("button", { type: "button", id: "test-read", onclick: testRead }, t("form.test")),
      el("button", { type: "submit", class: "primary", id: "save-device" }, t("form.save")),
      el("button", { type: "button", onclick: closeForm }, t("cancel")),
    ),
    el("p", { class: "message", id: "form-message", role: "status" }),
  ];
  form.replaceChildren(...parts.filter(Boolean));
  form.onsubmit = (event) => {
    event.preventDefault();
    save();
  };
}

function closeForm() {
  editing = null;
  $("#device-form").hidden = true;
}

function value(node) {
  if (node.type === "checkbox") return node.checked;
  const v = node.value.trim();
  if (v === "") return undefined;
  const name = node.dataset.path.split(".").pop();
  return NUMERIC.has(name) && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
}

// The draft as the form shows it: the original entry (fields the form does not show are kept),
// with every shown field overwritten (an emptied field is removed).
function collect() {
  const d = structuredClone(editing.draft);
  const form = $("#device-form");
  const rows = form.querySelectorAll("tbody tr").length;
  d.signals = (d.signals || []).slice(0, rows);
  for (const node of form.querySelectorAll("[data-path]")) {
    const path = node.dataset.path;
    const v = value(node);
    const m = path.match(/^signals\[(\d+)\]\.(\w+)$/);
    const target = m ? (d.signals[Number(m[1])] ||= {}) : d;
    const key = m ? m[2] : path;
    if (v === undefined) delete target[key];
    else target[key] = v;
  }
  if (d.protocol !== "opcua") delete d.subscribe;
  return d;
}

// A draft moved from protocol `before` to its new one: the fields only the old protocol's form
// showed are dropped (a Modbus `table` or `unit` would be refused by an S7 device).
function switched(d, before) {
  const kept = new Set(PROTOCOL_FIELDS[d.protocol].map(([name]) => name));
  for (const [name] of PROTOCOL_FIELDS[before] || []) if (!kept.has(name)) delete d[name];
  const columns = (p) => SIGNAL_COLUMNS[FAMILY[p] || "modbus"].map(([name]) => name);
  const keptColumns = new Set(columns(d.protocol));
  for (const signal of d.signals || []) {
    for (const name of columns(before)) if (!keptColumns.has(name)) delete signal[name];
  }
  return d;
}

function addSignal() {
  editing.draft = collect();
  editing.draft.signals.push({});
  renderForm();
}
function removeSignal(i) {
  editing.draft = collect();
  editing.draft.signals.splice(i, 1);
  renderForm();
}

function clearErrors() {
  for (const node of document.querySelectorAll("#device-form [data-error-for]")) node.textContent = "";
  for (const node of document.querySelectorAll("#device-form .invalid")) node.classList.remove("invalid");
}

// 422 details: `devices[3].signals[0].address` is shown under that field of this form.
function showErrors(errors) {
  for (const { path, message } of errors) {
    const local = path.replace(/^devices\[\d+\]\.?/, "");
    const target = document.querySelector(`#device-form [data-error-for="${CSS.escape(local)}"]`) ||
      document.querySelector('#device-form [data-error-for=""]');
    target.textContent = target.textContent ? `${target.textContent}; ${message}` : message;
    const fieldNode = document.querySelector(`#device-form [data-path="${CSS.escape(local)}"]`);
    if (fieldNode) fieldNode.classList.add("invalid");
  }
}

function formMessage(text, good) {
  const m = $("#form-message");
  m.textContent = text;
  m.className = `message ${good ? "good" : "bad"}`;
}

function explain(r) {
  if (r.status === 422 && r.data.errors) {
    showErrors(r.data.errors);
    return t("msg.invalid");
  }
  if (r.status === 409) return t("msg.conflict");
  if (r.status === 401) return t("msg.unauthorized");
  return t("msg.failed", { detail: r.data.detail || r.status });
}

async function ensureToken() {
  return sessionStorage.getItem("gerbang.token") || (await askToken());
}

async function save() {
  const d = collect();
  editing.draft = d;
  clearErrors();
  if (!(await ensureToken())) return;
  const id = d.id || "";
  if (!id) {
    showErrors([{ path: "id", message: t("form.id") + " ?" }]);
    return formMessage(t("msg.invalid"), false);
  }
  const headers = etag ? { "If-Match": etag } : {};
  const r = await api("PUT", `/api/v1/devices/${encodeURIComponent(id)}`, d, { headers });
  if (r.status !== 200) return formMessage(explain(r), false);
  closeForm();
  message(t("msg.saved"), true);
  await loadDevices();
}

async function remove(id) {
  if (!confirm(t("cfg.confirm_delete", { id }))) return;
  if (!(await ensureToken())) return;
  const r = await api("DELETE", `/api/v1/devices/${encodeURIComponent(id)}`, undefined, {
    headers: etag ? { "If-Match": etag } : {},
  });
  if (r.status !== 200) return message(explain(r), false);
  message(t("cfg.deleted", { id }), true);
  if (editing && editing.original && editing.original.id === id) closeForm();
  await loadDevices();
}

async function testRead() {
  const d = collect();
  editing.draft = d;
  clearErrors();
  $("#test-result").replaceChildren();
  if (!d.id) return showErrors([{ path: "id", message: t("form.id") + " ?" }]);
  if (!(await ensureToken())) return;
  formMessage(t("msg.loading"), true);
  const r = await api("POST", `/api/v1/devices/${encodeURIComponent(d.id)}/test`, d);
  if (r.status !== 200) return formMessage(explain(r), false);
  const result = r.data;
  formMessage(
    result.ok ? t("msg.test_ok", { ms: Math.round(result.latency_ms || 0) }) : t("msg.test_fail", { error: result.error || "" }),
    result.ok,
  );
  $("#test-result").replaceChildren(
    el("table", { class: "test-result" },
      el("tbody", {},
        Object.entries(result.signals).map(([name, s]) =>
          el("tr", { "data-signal": name },
            el("td", {}, name),
            s.quality === "bad"
              ? el("td", { class: "bad" }, `${t("msg.test_signal_fail")}: ${s.error || ""}`)
              : el("td", {}, `${s.value}${s.unit ? " " + s.unit : ""}`),
          ),
        ),
      ),
    ),
  );
}

// OPC UA browse: a tree loaded one level at a time; a readable variable can become a signal.
async function browse() {
  const d = collect();
  editing.draft = d;
  if (!editing.original) return formMessage(t("form.browse_saved"), false);
  const tree = $("#browse-tree");
  tree.replaceChildren(el("ul", {}, await browseLevel("i=85")));
}
async function browseLevel(node) {
  const id = editing.original.id;
  const r = await api("GET", `/api/v1/devices/${encodeURIComponent(id)}/browse?node=${encodeURIComponent(node)}&depth=1`);
  if (r.status !== 200) return [el("li", { class: "error" }, r.data.detail || String(r.status))];
  return r.data.map((item) => {
    const li = el("li", { "data-node": item.node });
    const children = el("ul");
    const parts = [
      item.kind === "object" // one level is browsed at a time: an object's children are unknown
        ? el("button", { type: "button", class: "expand", "aria-label": item.name, onclick: async () => {
            children.replaceChildren(...(children.childElementCount ? [] : await browseLevel(item.node)));
          } }, "▸")
        : null,
      " ", item.name, " ",
      item.kind === "variable" ? el("small", {}, `${item.data_type || ""} = ${item.value ?? "—"} `) : null,
      item.kind === "variable" && item.readable ? el("button", { type: "button", class: "pick", onclick: () => pick(item) }, t("form.pick")) : null,
      children,
    ];
    li.append(...parts.filter((p) => p !== null));
    return li;
  });
}
function pick(item) {
  editing.draft = collect();
  const name = item.name.toLowerCase().replace(/[^a-z0-9_]+/g, "_").replace(/^_+|_+$/g, "") || "signal";
  editing.draft.signals = editing.draft.signals.filter((s) => s.name || s.node);
  editing.draft.signals.push({ name, node: item.node });
  renderForm();
}

// The whole config as YAML text.
async function loadYaml() {
  const r = await api("GET", "/api/v1/config?format=yaml", undefined, { raw: true });
  if (r.status !== 200) return ($("#yaml-errors").textContent = r.data.detail || String(r.status));
  $("#yaml").value = r.data;
  etag = r.etag;
  $("#yaml-errors").textContent = "";
}
async function saveYaml() {
  $("#yaml-errors").textContent = "";
  if (!(await ensureToken())) return;
  const r = await api("PUT", "/api/v1/config", $("#yaml").value, {
    headers: { "Content-Type": "application/yaml", ...(etag ? { "If-Match": etag } : {}) },
  });
  if (r.status !== 200) {
    const lines = (r.data.errors || []).map((e) => `${e.path}: ${e.message}`);
    $("#yaml-errors").replaceChildren(
      el("strong", {}, r.status === 422 ? t("msg.invalid") : explain(r)),
      ...lines.map((l) => el("div", {}, l)),
    );
    return;
  }
  message(t("msg.saved"), true);
  await loadDevices();
  await loadYaml();
}
