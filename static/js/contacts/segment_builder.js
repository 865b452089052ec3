// Segment builder: a rule tree (docs/segments.md) edited as groups — 全部满足 / 满足任一 / 都不满足 —
// nested up to 4 levels, each holding conditions. Every change rebuilds the expression JSON in the
// hidden field (what is saved) and asks the server for the live count, a sample and the rule's
// sentence (debounced). A stored flat expression opens as one group with one condition per part.
(function () {
  "use strict";
  const T = window.scrmText || {};
  const opts = JSON.parse(document.getElementById("segment-options").textContent);
  const hidden = document.getElementById("expression");
  const MAX_GROUP_DEPTH = 4;
  const SEARCH_FROM = 8;  // chip lists longer than this get a search box
  let initial = {};
  try { initial = JSON.parse(hidden.value || "{}") || {}; } catch (e) { initial = {}; }

  const allTags = [];
  opts.tag_groups.forEach((g) => g.tags.forEach((t) => allTags.push({ id: t.id, name: t.name, group: g.name })));
  // Pickers of the conditions higher layers registered (campaigns, coupon templates, journeys).
  const more = (key, list) => ((opts.conditions || {})[key] || {})[list] || [];
  const consentItems = [{ id: "granted", name: T.consentGranted }, { id: "not_granted", name: T.consentNot }, { id: "opted_out", name: T.consentOut }];

  // Condition kinds: label, the editor, how a leaf part maps to it.
  const KINDS = {
    tags_any: { label: T.kTagsAny, editor: "chips", items: () => allTags, read: (v) => ({ tags: { any: v } }) },
    tags_all: { label: T.kTagsAll, editor: "chips", items: () => allTags, read: (v) => ({ tags: { all: v } }) },
    tags_none: { label: T.kTagsNone, editor: "chips", items: () => allTags, read: (v) => ({ tags: { none: v } }) },
    stores: { label: T.kStores, editor: "chips", items: () => opts.stores, read: (v) => ({ stores: v }) },
    source_channels: { label: T.kChannels, editor: "chips", items: () => opts.channels, read: (v) => ({ source_channels: v }) },
    lifecycle: { label: T.kLifecycle, editor: "chips", items: () => opts.lifecycle, read: (v) => ({ lifecycle: v }) },
    churn_risk: { label: T.kChurn, editor: "chips", items: () => opts.churn_risk, read: (v) => ({ churn_risk: v }) },
    follower_staff: { label: T.kStaff, editor: "chips", items: () => opts.staff, read: (v) => ({ follower_staff: v }) },
    groups: { label: T.kGroups, editor: "chips", items: () => opts.groups, read: (v) => ({ groups: v }) },
    consent: { label: T.kConsent, editor: "one", items: () => consentItems, read: (v) => ({ consent: v }) },
    created: { label: T.kCreated, editor: "dates" },
    last_order: { label: T.kLastOrder, editor: "dates" },
    ltv: { label: T.kLtv, editor: "range", step: "0.01" },
    order_count: { label: T.kOrderCount, editor: "range", step: "1" },
    p_alive: { label: T.kPAlive, editor: "range", step: "0.01" },
    predicted_value_12m: { label: T.kValue, editor: "range", step: "0.01" },
    custom: { label: T.kCustom, editor: "custom" },
    orders: { label: T.kOrders, editor: "orders" },
    no_repeat: { label: T.kNoRepeat, editor: "no_repeat" },
    first_order: { label: T.kFirstOrder, editor: "window" },
    broadcast: { label: T.kBroadcast, editor: "window", items: () => more("broadcast", "campaigns"), idsKey: "campaign_ids", hint: T.anyCampaign },
    group_joined: { label: T.kJoined, editor: "window", items: () => opts.groups, idsKey: "group_ids", hint: T.anyGroup },
    group_left: { label: T.kLeft, editor: "window", items: () => opts.groups, idsKey: "group_ids", hint: T.anyGroup },
    coupon_redeemed: { label: T.kCouponRedeemed, editor: "coupon_redeemed" },
    coupon_valid: { label: T.kCouponValid, editor: "coupon_valid" },
    journey: { label: T.kJourney, editor: "journey" },
  };
  if (!(opts.custom_fields || []).length) delete KINDS.custom;

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => { if (k === "class") e.className = v; else e.setAttribute(k, v); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function input(type, value, label, step) {
    const e = el("input", { type: type, "aria-label": label });
    if (step) e.step = step;
    if (type === "number") e.min = "0";
    if (value !== undefined && value !== null) e.value = value;
    e.addEventListener("input", schedule); e.addEventListener("change", schedule);
    return e;
  }
  // Chips to toggle; a long list gets a search box that hides the chips whose name does not match
  // (chosen chips stay visible). A chosen id missing from the list (an old campaign) shows as #id.
  function chipBox(items, chosen, single) {
    const box = el("span", { class: "chips" });
    const picked = new Set((chosen || []).map(String));
    const known = new Set(items.map((it) => String(it.id)));
    const missing = Array.from(picked).filter((id) => /^\d+$/.test(id) && !known.has(id));
    items = items.concat(missing.map((id) => ({ id: id, name: "#" + id })));
    items.forEach((it) => {
      const b = el("button", { type: "button", class: "chip-btn" + (picked.has(String(it.id)) ? " on" : ""), "data-id": it.id, title: it.group || "" }, it.name);
      b.addEventListener("click", () => {
        if (single) box.querySelectorAll(".chip-btn.on").forEach((o) => { if (o !== b) o.classList.remove("on"); });
        b.classList.toggle("on"); schedule();
      });
      box.appendChild(b);
    });
    box.read = () => Array.from(box.querySelectorAll(".chip-btn.on")).map((b) => {
      const id = b.dataset.id; return /^\d+$/.test(id) ? Number(id) : id;
    });
    if (items.length <= SEARCH_FROM) return box;
    const wrap = el("span", { class: "chip-picker" });
    const search = el("input", { type: "search", class: "chip-search", placeholder: T.search, "aria-label": T.search });
    search.addEventListener("input", () => {
      const q = search.value.trim().toLowerCase();
      box.querySelectorAll(".chip-btn").forEach((b) => {
        b.hidden = Boolean(q) && !b.classList.contains("on") && !b.textContent.toLowerCase().includes(q);
      });
    });
    wrap.append(search, box);
    wrap.read = box.read;
    return wrap;
  }
  function num(v) { return v === "" ? null : Number(v); }
  function windowEditor(row, value) {
    const mode = el("select", { "aria-label": T.window });
    [["within", T.withinDays], ["dates", T.betweenDates]].forEach(([v, l]) => mode.add(new Option(l, v)));
    const days = input("number", value.within_days, T.withinDays, "1");
    days.classList.add("days"); days.min = "1";
    const from = input("date", value.from, T.from); const to = input("date", value.to, T.to);
    const datesBox = el("span", { class: "row-inline" }); datesBox.append(from, el("span", {}, "—"), to);
    const daysBox = el("span", { class: "row-inline" }); daysBox.append(el("span", {}, T.last), days, el("span", {}, T.days));
    mode.value = value.from || value.to ? "dates" : "within";
    const sync = () => { daysBox.hidden = mode.value !== "within"; datesBox.hidden = mode.value === "within"; };
    mode.addEventListener("change", () => { sync(); schedule(); }); sync();
    row.append(mode, daysBox, datesBox);
    return () => {
      if (mode.value === "within") return days.value ? { within_days: Number(days.value) } : {};
      const out = {}; if (from.value) out.from = from.value; if (to.value) out.to = to.value; return out;
    };
  }

  // One condition row: a kind picker and its editor; read() gives the leaf (or null when empty).
  function conditionRow(kind, value) {
    const row = el("div", { class: "cond-row", "data-testid": "condition" });
    const pick = el("select", { class: "kind", "aria-label": T.conditionKind });
    Object.entries(KINDS).forEach(([k, d]) => pick.add(new Option(d.label, k, false, k === kind)));
    if (kind === "raw") pick.add(new Option(T.kRaw, "raw", false, true));
    const body = el("div", { class: "cond-body" });
    const remove = el("button", { type: "button", class: "link danger-link", "aria-label": T.removeCondition }, "✕");
    remove.addEventListener("click", () => { row.remove(); schedule(); });
    const head = el("div", { class: "cond-head" }); head.append(pick, remove);
    row.append(head, body);
    function render(k, v) {
      body.innerHTML = ""; v = v || {};
      if (k === "raw") {
        // A condition this page has no editor for (e.g. one a newer app registered): kept as it is.
        body.appendChild(el("code", { class: "raw" }, JSON.stringify(v)));
        row.read = () => v;
        return;
      }
      const d = KINDS[k];
      if (d.editor === "chips" || d.editor === "one") {
        const box = chipBox(d.items(), Array.isArray(v) ? v : typeof v === "string" ? [v] : [], d.editor === "one");
        body.appendChild(box);
        row.read = () => { const p = box.read(); return p.length ? d.read(d.editor === "one" ? p[0] : p) : null; };
      } else if (d.editor === "dates") {
        const a = input("date", v.from, T.from); const b = input("date", v.to, T.to);
        body.append(a, el("span", {}, " — "), b);
        row.read = () => { const o = {}; if (a.value) o.from = a.value; if (b.value) o.to = b.value; return Object.keys(o).length ? { [k]: o } : null; };
      } else if (d.editor === "range") {
        const a = input("number", v.min, T.low, d.step); const b = input("number", v.max, T.high, d.step);
        a.placeholder = T.low; b.placeholder = T.high;
        body.append(a, el("span", {}, " — "), b);
        row.read = () => { const o = {}; if (a.value) o.min = num(a.value); if (b.value) o.max = num(b.value); return Object.keys(o).length ? { [k]: o } : null; };
      } else if (d.editor === "custom") {
        const key = Object.keys(v)[0]; const cond = key ? v[key] : {};
        const field = el("select", { "aria-label": T.kCustom });
        opts.custom_fields.forEach((f) => field.add(new Option(f.label, f.key, false, f.key === key)));
        const slot = el("span", { class: "row-inline" });
        body.append(field, slot);
        const draw = (c) => {
          slot.innerHTML = ""; const f = opts.custom_fields.find((x) => x.key === field.value);
          if (f.kind === "text") {
            const op = el("select", { "aria-label": f.label });
            [["contains", T.contains], ["equals", T.equals]].forEach(([o, l]) => op.add(new Option(l, o, false, o in c)));
            op.addEventListener("change", schedule);
            const text = input("text", c.equals || c.contains, f.label);
            slot.append(op, text);
            row.read = () => (text.value.trim() ? { custom: { [f.key]: { [op.value]: text.value.trim() } } } : null);
          } else if (f.kind === "number" || f.kind === "date") {
            const [lo, hi] = f.kind === "number" ? ["min", "max"] : ["from", "to"];
            const type = f.kind === "number" ? "number" : "date";
            const a = input(type, c[lo], f.label + " " + T.low, "any"); const b = input(type, c[hi], f.label + " " + T.high, "any");
            if (type === "number") { a.removeAttribute("min"); b.removeAttribute("min"); }
            slot.append(a, el("span", {}, " — "), b);
            row.read = () => {
              const o = {}; if (a.value) o[lo] = type === "number" ? Number(a.value) : a.value;
              if (b.value) o[hi] = type === "number" ? Number(b.value) : b.value;
              return Object.keys(o).length ? { custom: { [f.key]: o } } : null;
            };
          } else {
            const op = f.kind === "multi_choice" ? "any" : "in";
            const box = chipBox(f.options.map((o) => ({ id: o, name: o })), c[op] || []);
            slot.appendChild(box);
            row.read = () => { const p = box.read(); return p.length ? { custom: { [f.key]: { [op]: p } } } : null; };
          }
        };
        field.addEventListener("change", () => { draw({}); schedule(); });
        draw(cond || {});
      } else if (d.editor === "orders") {
        const readWindow = windowEditor(body, v);
        const extra = el("div", { class: "row-inline" });
        const category = input("text", v.category, T.category); category.placeholder = T.category; category.classList.add("category");
        const a = input("number", v.amount_min, T.amountMin, "0.01"); a.placeholder = T.amountMin;
        const b = input("number", v.amount_max, T.amountMax, "0.01"); b.placeholder = T.amountMax;
        extra.append(category, a, el("span", {}, "—"), b);
        const stores = chipBox(opts.stores, v.store_ids || []);
        body.append(extra, el("div", { class: "muted small" }, T.orderStores), stores);
        row.read = () => {
          const o = readWindow();
          if (category.value.trim()) o.category = category.value.trim();
          if (a.value) o.amount_min = Number(a.value); if (b.value) o.amount_max = Number(b.value);
          const s = stores.read(); if (s.length) o.store_ids = s;
          return { orders: o };
        };
      } else if (d.editor === "no_repeat") {
        const days = input("number", v.days, T.days, "1"); days.min = "1"; days.classList.add("days");
        body.append(el("span", {}, T.noRepeatBefore), days, el("span", {}, T.noRepeatAfter));
        row.read = () => (days.value ? { no_repeat: { days: Number(days.value) } } : null);
      } else if (d.editor === "window") {
        const readWindow = windowEditor(body, v);
        let box = null;
        if (d.items) { box = chipBox(d.items(), v[d.idsKey] || []); body.append(el("div", { class: "muted small" }, d.hint), box); }
        row.read = () => {
          const o = readWindow(); if (!Object.keys(o).length) return null;
          if (box) { const p = box.read(); if (p.length) o[d.idsKey] = p; }
          return { [k]: o };
        };
      } else if (d.editor === "coupon_redeemed") {
        const readWindow = windowEditor(body, v);
        const templates = chipBox(more("coupon_redeemed", "templates"), v.template_ids || []);
        const stores = chipBox(opts.stores, v.store_ids || []);
        body.append(el("div", { class: "muted small" }, T.anyCoupon), templates, el("div", { class: "muted small" }, T.redeemStores), stores);
        row.read = () => {
          const o = readWindow();  // no window: ever redeemed
          const t = templates.read(); if (t.length) o.template_ids = t;
          const s = stores.read(); if (s.length) o.store_ids = s;
          return { coupon_redeemed: o };
        };
      } else if (d.editor === "coupon_valid") {
        const days = input("number", v.expires_within_days, T.expiresWithin, "1"); days.min = "1"; days.classList.add("days");
        const templates = chipBox(more("coupon_valid", "templates"), v.template_ids || []);
        body.append(el("span", {}, T.expiresBefore), days, el("span", {}, T.expiresAfter),
          el("div", { class: "muted small" }, T.anyCoupon), templates);
        row.read = () => {
          const o = {};
          if (days.value) o.expires_within_days = Number(days.value);
          const t = templates.read(); if (t.length) o.template_ids = t;
          return { coupon_valid: o };
        };
      } else if (d.editor === "journey") {
        const outcome = el("select", { class: "outcome", "aria-label": T.journeyOutcome });
        [["reached", T.journeyReached], ["completed", T.journeyCompleted], ["exited", T.journeyExited]].forEach(([o, l]) => outcome.add(new Option(l, o, false, (v.outcome || "reached") === o)));
        const readWindow = windowEditor(body, v);
        const journeys = chipBox(more("journey", "journeys"), v.journey_ids || []);
        const steps = chipBox(more("journey", "steps"), v.step_ids || []);
        const stepsBox = el("div", { class: "cond-sub" }); stepsBox.append(el("div", { class: "muted small" }, T.journeySteps), steps);
        const sync = () => { stepsBox.hidden = outcome.value !== "reached"; };
        outcome.addEventListener("change", () => { sync(); schedule(); }); sync();
        body.prepend(outcome);
        body.append(el("div", { class: "muted small" }, T.anyJourney), journeys, stepsBox);
        row.read = () => {
          const o = readWindow();
          if (outcome.value !== "reached") o.outcome = outcome.value;
          const j = journeys.read(); if (j.length) o.journey_ids = j;
          const s = outcome.value === "reached" ? steps.read() : []; if (s.length) o.step_ids = s;
          return { journey: o };
        };
      }
    }
    pick.addEventListener("change", () => { render(pick.value, null); schedule(); });
    render(kind, value);
    return row;
  }

  // A group: mode (all / any / none), its conditions and sub-groups; read() gives the node or null.
  function groupBox(mode, items, depth) {
    const box = el("fieldset", { class: "rule-group depth-" + depth, "data-testid": "rule-group" });
    const head = el("div", { class: "group-head" });
    const modeSel = el("select", { class: "mode", "aria-label": T.groupMode });
    [["all", T.modeAll], ["any", T.modeAny], ["none", T.modeNone]].forEach(([v, l]) => modeSel.add(new Option(l, v, false, v === mode)));
    modeSel.addEventListener("change", schedule);
    head.append(el("span", { class: "muted" }, T.groupLead), modeSel, el("span", { class: "muted" }, T.groupTail));
    if (depth > 1) {
      const rm = el("button", { type: "button", class: "link danger-link", "aria-label": T.removeGroup }, T.removeGroup);
      rm.addEventListener("click", () => { box.remove(); schedule(); });
      head.appendChild(rm);
    }
    const list = el("div", { class: "group-items" });
    const actions = el("div", { class: "group-actions" });
    const addCond = el("button", { type: "button", class: "secondary" }, T.addCondition);
    addCond.addEventListener("click", () => { list.appendChild(conditionRow("tags_any", null)); schedule(); });
    actions.appendChild(addCond);
    if (depth < MAX_GROUP_DEPTH) {
      const addGroup = el("button", { type: "button", class: "secondary" }, T.addGroup);
      addGroup.addEventListener("click", () => { list.appendChild(groupBox("any", [], depth + 1)); schedule(); });
      actions.appendChild(addGroup);
    }
    box.append(head, list, actions);
    items.forEach((it) => list.appendChild(it.group ? groupBox(it.mode, it.items, depth + 1) : conditionRow(it.kind, it.value)));
    box.read = () => {
      const parts = Array.from(list.children).map((c) => c.read()).filter((p) => p && Object.keys(p).length);
      if (!parts.length) return null;
      if (modeSel.value === "none") return { not: parts.length === 1 ? parts[0] : { any: parts } };
      return parts.length === 1 && depth > 1 ? parts[0] : { [modeSel.value]: parts };
    };
    return box;
  }

  // Stored expression -> groups and condition rows.
  function leafItems(leaf) {
    const items = [];
    Object.entries(leaf).forEach(([key, v]) => {
      if (key === "tags") ["any", "all", "none"].forEach((p) => { if ((v[p] || []).length) items.push({ kind: "tags_" + p, value: v[p] }); });
      else if (key === "custom") Object.entries(v).forEach(([f, c]) => items.push({ kind: "custom", value: { [f]: c } }));
      else if (KINDS[key]) items.push({ kind: key, value: v });
      else items.push({ kind: "raw", value: { [key]: v } });
    });
    return items;
  }
  function isNode(n) { return n && typeof n === "object" && (("all" in n) || ("any" in n) || ("not" in n)); }
  function toGroup(node) {
    if (!isNode(node)) return { group: true, mode: "all", items: leafItems(node || {}) };
    if ("not" in node) {
      const inner = node.not;
      if (isNode(inner) && "any" in inner) return { group: true, mode: "none", items: inner.any.map(toItem).flat() };
      return { group: true, mode: "none", items: [toItem(inner)].flat() };
    }
    const mode = "all" in node ? "all" : "any";
    return { group: true, mode: mode, items: node[mode].map(toItem).flat() };
  }
  function toItem(node) {
    if (isNode(node)) return toGroup(node);
    const items = leafItems(node);
    return items.length === 1 ? items : { group: true, mode: "all", items: items };
  }

  const rootSpec = toGroup(initial);
  const root = groupBox(rootSpec.mode, rootSpec.items, 1);
  document.getElementById("rule-tree").appendChild(root);
  if (!rootSpec.items.length) root.querySelector(".group-items").appendChild(conditionRow("tags_any", null));

  function build() { return root.read() || {}; }

  const countEl = document.getElementById("seg-count");
  const statusEl = document.getElementById("seg-status");
  const sentenceEl = document.getElementById("seg-sentence");
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
      sentenceEl.textContent = data.description || "";
      statusEl.textContent = data.count ? "" : T.empty;
      sampleEl.innerHTML = "";
      data.sample.forEach((c) => {
        const li = el("li"); const a = el("a", { href: c.url }, c.name); li.appendChild(a);
        li.appendChild(el("span", { class: "muted" }, c.phone || ""));
        sampleEl.appendChild(li);
      });
    } catch (err) {
      if (mine !== seq) return;
      countEl.textContent = "—"; sentenceEl.textContent = ""; statusEl.textContent = T.failed + err.message;
    }
  }
  document.getElementById("segment-form").addEventListener("submit", () => { hidden.value = JSON.stringify(build()); });
  schedule();
})();
