// Segment builder: controls -> expression JSON (the agreed contacts.segments format); every change
// asks the server for the live count and a sample (debounced), and the hidden field is what is saved.
(function () {
  "use strict";
  const T = window.scrmText || {};
  const opts = JSON.parse(document.getElementById("segment-options").textContent);
  const hidden = document.getElementById("expression");
  let expr = {};
  try { expr = JSON.parse(hidden.value || "{}") || {}; } catch (e) { expr = {}; }
  const tagState = {};  // tag id -> "all" | "any" | "none"
  ["all", "any", "none"].forEach((k) => ((expr.tags || {})[k] || []).forEach((id) => { tagState[id] = k; }));
  const CYCLE = { "": "all", all: "any", any: "none", none: "" };

  function chip(label, cls, onClick) {
    const b = document.createElement("button");
    b.type = "button"; b.className = "chip-btn " + cls; b.textContent = label;
    b.addEventListener("click", () => { onClick(b); schedule(); });
    return b;
  }
  // Tags: one chip per tag, cycling all -> any -> none -> off.
  const tagBox = document.getElementById("tag-conds");
  opts.tag_groups.forEach((g) => {
    const div = document.createElement("div"); div.className = "tag-group";
    div.innerHTML = '<div class="gname"></div>'; div.firstChild.textContent = g.name;
    g.tags.forEach((t) => div.appendChild(chip(t.name, tagState[t.id] || "", (b) => {
      const next = CYCLE[tagState[t.id] || ""];
      if (next) tagState[t.id] = next; else delete tagState[t.id];
      b.className = "chip-btn " + next;
    })));
    tagBox.appendChild(div);
  });
  // Simple multi-choice lists as toggle chips.
  function chipList(boxId, items, key) {
    const chosen = new Set(expr[key] || []);
    const box = document.getElementById(boxId);
    items.forEach((it) => box.appendChild(chip(it.name, chosen.has(it.id) ? "on" : "", (b) => {
      b.classList.toggle("on");
    })));
    box.dataset.key = key;
    box._items = items;
  }
  chipList("store-conds", opts.stores, "stores");
  chipList("channel-conds", opts.channels, "source_channels");
  chipList("lifecycle-conds", opts.lifecycle, "lifecycle");
  chipList("churn-conds", opts.churn_risk, "churn_risk");
  function selectList(id, items, key) {
    const sel = document.getElementById(id); const chosen = new Set(expr[key] || []);
    items.forEach((it) => { const o = new Option(it.name, it.id, false, chosen.has(it.id)); sel.add(o); });
    sel.addEventListener("change", schedule);
  }
  selectList("staff-conds", opts.staff, "follower_staff");
  selectList("group-conds", opts.groups, "groups");

  // Custom fields the brand defines: one row each, with the inputs its type allows; each row reads
  // back its condition ({"equals"|"contains": text}, {"min","max"}, {"from","to"}, {"in"|"any": [...]}).
  const customBox = document.getElementById("custom-conds");
  const customReaders = [];
  function input(type, value, placeholder, label) {
    const el = document.createElement("input"); el.type = type;
    if (type === "number") el.step = "any";
    if (placeholder) el.placeholder = placeholder;
    if (label) el.setAttribute("aria-label", label);
    if (value !== undefined && value !== null) el.value = value;
    el.addEventListener("input", schedule); el.addEventListener("change", schedule);
    return el;
  }
  (opts.custom_fields || []).forEach((f) => {
    const cond = (expr.custom || {})[f.key] || {};
    const row = document.createElement("div"); row.className = "row custom-row"; row.dataset.key = f.key;
    const name = document.createElement("span"); name.className = "custom-label"; name.textContent = f.label;
    row.appendChild(name);
    let read;
    if (f.kind === "text") {
      const op = document.createElement("select"); op.setAttribute("aria-label", f.label);
      [["contains", T.contains], ["equals", T.equals]].forEach(([v, l]) => op.add(new Option(l, v, false, v in cond)));
      op.addEventListener("change", schedule);
      const text = input("text", cond.equals || cond.contains, "", f.label);
      row.append(op, text);
      read = () => (text.value.trim() ? { [op.value]: text.value.trim() } : null);
    } else if (f.kind === "number" || f.kind === "date") {
      const type = f.kind === "number" ? "number" : "date";
      const [a, b] = f.kind === "number" ? ["min", "max"] : ["from", "to"];
      const lo = input(type, cond[a], T.low, f.label + " " + T.low);
      const hi = input(type, cond[b], T.high, f.label + " " + T.high);
      const dash = document.createElement("span"); dash.textContent = "—";
      row.append(lo, dash, hi);
      read = () => {
        const out = {};
        if (lo.value) out[a] = type === "number" ? Number(lo.value) : lo.value;
        if (hi.value) out[b] = type === "number" ? Number(hi.value) : hi.value;
        return Object.keys(out).length ? out : null;
      };
    } else {
      const key = f.kind === "multi_choice" ? "any" : "in";
      const chosen = new Set(cond[key] || []);
      const box = document.createElement("span"); box.className = "chips";
      f.options.forEach((o) => box.appendChild(chip(o, chosen.has(o) ? "on" : "", (b) => b.classList.toggle("on"))));
      row.appendChild(box);
      read = () => {
        const picked = f.options.filter((_o, i) => box.children[i].classList.contains("on"));
        return picked.length ? { [key]: picked } : null;
      };
    }
    customBox.appendChild(row);
    customReaders.push([f.key, read]);
  });
  document.querySelectorAll("[data-path]").forEach((el) => {
    const [a, b] = el.dataset.path.split(".");
    const v = b ? (expr[a] || {})[b] : expr[a];
    if (v !== undefined && v !== null) el.value = v;
    el.addEventListener("input", schedule); el.addEventListener("change", schedule);
  });

  function build() {
    const out = {}; const tags = { all: [], any: [], none: [] };
    Object.entries(tagState).forEach(([id, k]) => tags[k].push(Number(id)));
    Object.keys(tags).forEach((k) => { if (!tags[k].length) delete tags[k]; });
    if (Object.keys(tags).length) out.tags = tags;
    ["store-conds", "channel-conds", "lifecycle-conds", "churn-conds"].forEach((id) => {
      const box = document.getElementById(id); const picked = [];
      box.querySelectorAll(".chip-btn").forEach((b, i) => { if (b.classList.contains("on")) picked.push(box._items[i].id); });
      if (picked.length) out[box.dataset.key] = picked;
    });
    [["staff-conds", "follower_staff"], ["group-conds", "groups"]].forEach(([id, key]) => {
      const picked = Array.from(document.getElementById(id).selectedOptions).map((o) => Number(o.value));
      if (picked.length) out[key] = picked;
    });
    const custom = {};
    customReaders.forEach(([key, read]) => { const c = read(); if (c) custom[key] = c; });
    if (Object.keys(custom).length) out.custom = custom;
    document.querySelectorAll("[data-path]").forEach((el) => {
      const [a, b] = el.dataset.path.split(".");
      if (!el.value) return;
      if (!b) { if (el.value !== "any") out[a] = el.value; return; }
      const num = el.type === "number";
      out[a] = out[a] || (num ? { min: null, max: null } : {});
      out[a][b] = num ? Number(el.value) : el.value;
    });
    return out;
  }

  const countEl = document.getElementById("seg-count");
  const statusEl = document.getElementById("seg-status");
  const sampleEl = document.getElementById("seg-sample");
  let timer = null; let seq = 0;
  function schedule() {
    hidden.value = JSON.stringify(build());
    clearTimeout(timer); timer = setTimeout(preview, 300);
  }
  async function preview() {
    const mine = ++seq;
    statusEl.textContent = T.counting;
    try {
      const data = await window.scrm.api(T.previewUrl, { method: "POST", body: { expression: JSON.parse(hidden.value) } });
      if (mine !== seq) return;
      countEl.textContent = data.count.toLocaleString("zh-CN");
      statusEl.textContent = data.count ? "" : T.empty;
      sampleEl.innerHTML = "";
      data.sample.forEach((c) => {
        const li = document.createElement("li"); const a = document.createElement("a");
        a.href = c.url; a.textContent = c.name; li.appendChild(a);
        const s = document.createElement("span"); s.className = "muted"; s.textContent = c.phone || ""; li.appendChild(s);
        sampleEl.appendChild(li);
      });
    } catch (err) {
      if (mine !== seq) return;
      countEl.textContent = "—"; statusEl.textContent = T.failed + err.message;
    }
  }
  document.getElementById("segment-form").addEventListener("submit", () => { hidden.value = JSON.stringify(build()); });
  schedule();
})();
