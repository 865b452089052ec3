// Campaign wizard: audience (live count) → content (phone preview) → schedule → review → submit.
// A welcome template picks its 渠道活码 instead of an audience and has no schedule step.
// Every string shown here comes translated from the page (#wizard-strings, see campaigns.views.wizard_strings).
(function () {
  "use strict";
  const root = document.getElementById("wizard");
  if (!root) return;
  const $ = (sel) => root.querySelector(sel);
  const field = (name) => root.querySelector(`[name="${name}"]`);
  const stringsEl = document.getElementById("wizard-strings");
  const S = stringsEl ? JSON.parse(stringsEl.textContent) : {};
  const atts = [];
  let timer = null;
  // One holdout seed for every preview and the submit: the count shown is the count planned.
  const holdoutSeed = window.crypto.getRandomValues(new Uint32Array(1))[0];
  // The schedule inputs are Beijing time whatever the browser's zone: send the wall-clock value with
  // +08:00 (China has no daylight saving), never through the browser's own zone (new Date(v)).
  const beijingIso = (v) => (v ? `${v.length === 16 ? v + ":00" : v}+08:00` : null);
  const beijingText = (iso) =>
    new Date(iso).toLocaleString(document.documentElement.lang || "zh-CN", { timeZone: "Asia/Shanghai", hour12: false });

  function esc(s) { const d = document.createElement("div"); d.textContent = s == null ? "" : String(s); return d.innerHTML; }
  // A translated string with %(name)s placeholders filled in (values are plain text).
  function t(key, params) {
    return String(S[key] == null ? key : S[key]).replace(/%\((\w+)\)s/g, (m, k) => (params && k in params ? String(params[k]) : m));
  }
  // The same, as HTML: the string is escaped, the values are inserted as given (already HTML).
  function tHtml(key, params) {
    return esc(S[key] == null ? key : S[key]).replace(/%\((\w+)\)s/g, (m, k) => (params && k in params ? String(params[k]) : m));
  }
  function multi(name) { return Array.from(field(name).selectedOptions).map((o) => Number(o.value)); }
  function isGroup() { return field("kind").value === "broadcast_group"; }
  function isWelcome() { return field("kind").value === "welcome_template"; }

  function payload() {
    const when = root.querySelector('[name="when"]:checked').value;
    const welcome = isWelcome();
    const way = field("contact_way_id");
    return {
      name: field("name").value || t("untitled"),
      kind: field("kind").value,
      text: field("text").value,
      attachments: atts.map(readAtt),
      segment_id: !welcome && !isGroup() && field("segment_id").value ? Number(field("segment_id").value) : null,
      group_ids: !welcome && isGroup() ? multi("group_ids") : [],
      exclusion_segment_ids: welcome ? [] : multi("exclusion_segment_ids"),
      holdout_percent: welcome ? 0 : Number(field("holdout_percent").value || 0),
      priority: Number(field("priority").value || 0),
      value_per_conversion: field("value_per_conversion").value || "0",
      due_at: !welcome && when === "at" ? beijingIso(field("due_at").value) : null,
      recurrence: welcome ? "" : field("recurrence").value,
      recurrence_until: welcome ? null : beijingIso(field("recurrence_until").value),
      holdout_seed: holdoutSeed,
      contact_way_id: welcome && way && way.value ? Number(way.value) : null,
      coupon_template_id: welcome && field("coupon_template_id") && field("coupon_template_id").value ? Number(field("coupon_template_id").value) : null,
      moment_tag_ids: field("kind").value === "moment" ? multi("moment_tag_ids") : [],
    };
  }

  // Library materials (素材库) the pickers offer: [{id, name, kind, url}].
  const materialsEl = document.getElementById("wizard-materials");
  const materials = materialsEl ? JSON.parse(materialsEl.textContent) : [];
  const materialId = (value) => (value ? Number(value) : null);

  function readAtt(row) {
    const type = row.dataset.type, v = (n) => row.querySelector(`[data-k="${n}"]`).value;
    if (type === "link") return { msgtype: "link", link: { title: v("title"), url: v("url") } };
    if (type === "image" || type === "video" || type === "file") return { msgtype: type, [type]: { material_id: materialId(v("material_id")) } };
    return { msgtype: "miniprogram", miniprogram: { title: v("title"), appid: v("appid"), page: v("page"), pic_material_id: materialId(v("pic_material_id")) } };
  }

  // A <select> of the library's materials of one kind (the picker), or a note that there are none yet.
  function picker(key, kind, label) {
    const options = materials.filter((m) => m.kind === kind);
    if (!options.length) return `<select data-k="${key}" aria-label="${esc(label)}"><option value="">${esc(t("no_materials", { kind: t(kind) }))}</option></select>`;
    return `<select data-k="${key}" aria-label="${esc(label)}"><option value="">${esc(label)}</option>` +
      options.map((m) => `<option value="${m.id}" data-url="${esc(m.url)}">${esc(m.name)}</option>`).join("") + "</select>";
  }

  function addAtt(type) {
    if (atts.length >= 9) { alert(t("max_attachments")); return; }
    const row = document.createElement("div");
    row.className = "att-row"; row.dataset.type = type;
    const inputs = { link: [["title", t("link_title")], ["url", "https://"]], miniprogram: [["title", t("miniprogram_title")], ["appid", "AppID"], ["page", t("page_path")]] }[type] || [];
    const pick = type === "miniprogram" ? picker("pic_material_id", "image", t("choose_cover"))
      : type in { image: 1, video: 1, file: 1 } ? picker("material_id", type, t("choose_material", { kind: t(type) })) : "";
    row.innerHTML = inputs.map(([k, p]) => `<input data-k="${k}" placeholder="${esc(p)}">`).join("") + pick +
      `<button type="button" title="${esc(t("remove_attachment"))}" aria-label="${esc(t("remove_attachment"))}">✕</button>`;
    row.addEventListener("change", phone);
    row.querySelector("button").onclick = () => { atts.splice(atts.indexOf(row), 1); row.remove(); phone(); };
    row.addEventListener("input", phone);
    atts.push(row); $("#atts").appendChild(row); phone();
  }

  function phone() {
    const p = document.getElementById("phone");
    const text = field("text").value;
    const placeholder = isWelcome() ? t("welcome_phone_placeholder") : t("phone_placeholder");
    let html = `<div class="bubble">${esc(text || placeholder).replace(/\n/g, "<br>")}</div>`;
    for (const a of atts.map(readAtt)) {
      const b = a[a.msgtype];
      const m = materials.find((x) => x.id === b.material_id);
      if (a.msgtype === "image" && m) { html += `<div class="bubble att"><img src="${esc(m.url)}" alt="${esc(m.name)}" style="max-width:100%;max-height:120px"></div>`; continue; }
      const label = { link: "🔗 " + esc(b.title || t("link")), image: "🖼 " + esc(t("image")), video: "▶ " + esc(m ? m.name : t("video")), file: "📄 " + esc(m ? m.name : t("file")) }[a.msgtype];
      html += `<div class="bubble att">${label || "▣ " + esc(b.title || t("miniprogram"))}</div>`;
    }
    p.innerHTML = html;
  }

  function reasons(list) {
    return list.length ? "<ul class='plain'>" + list.map((e) => `<li>${esc(e.label)}：<strong>${e.count}</strong></li>`).join("") + "</ul>" : `<p class='muted'>${esc(t("no_exclusions"))}</p>`;
  }

  function welcomeReview() {
    const way = field("contact_way_id");
    const name = way && way.selectedOptions.length ? way.selectedOptions[0].textContent : t("welcome_default");
    document.getElementById("review").innerHTML =
      `<p id="review-welcome">${tHtml("welcome_review", { way: `<strong>${esc(name)}</strong>` })}</p>` +
      `<p class="muted">${esc(t("welcome_review_note"))}</p>`;
  }

  async function preview() {
    const count = document.getElementById("live-count"), note = document.getElementById("live-note");
    if (isWelcome()) {
      count.textContent = t("welcome_count");
      note.textContent = t("welcome_note");
      welcomeReview();
      return;
    }
    note.textContent = t("counting");
    try {
      const r = await window.scrm.api(root.dataset.preview, { method: "POST", body: payload() });
      if (isWelcome()) return; // the kind changed while counting
      count.textContent = r.recipients;
      note.textContent = t("audience_note", { audience: r.audience, excluded: r.audience - r.recipients });
      const q = r.quota || {};
      const li = (key, value) => `<li>${tHtml(key, { value: esc(value) })}</li>`;
      const brand = q.brand_cap ? t("brand_cap_value", { period: q.brand_cap_period, n: q.brand_cap }) : t("not_set");
      document.getElementById("review").innerHTML =
        `<p>${tHtml(isGroup() ? "review_groups" : "review_customers", {
          count: `<strong id="review-count">${esc(r.recipients)}</strong>`,
          batches: esc(r.batches),
          senders: esc((r.senders || []).length),
        })}</p>` +
        `<h4>${esc(t("exclusion_reasons"))}</h4>${reasons(r.exclusions || [])}` +
        `<h4>${esc(t("quota"))}</h4><ul class="plain">` +
        li("customer_cap", q.customer_mode) + li("group_cap", q.group_mode) + li("moments_cap", q.moments_per_day) +
        li("brand_cap", brand) + li("quiet_hours", q.quiet_hours) +
        `<li>${tHtml("approval", { n: esc(q.approval_threshold) })}</li></ul>` +
        `<p class="muted">${tHtml("earliest", { at: esc(beijingText(r.send_after)) })}</p>`;
    } catch (e) {
      note.textContent = e.message;
    }
  }

  function schedulePreview() { clearTimeout(timer); timer = setTimeout(preview, 300); }

  function show(step) {
    root.querySelectorAll("section[data-step]").forEach((s) => { s.hidden = s.dataset.step !== String(step); });
    document.querySelectorAll("#steps > span").forEach((s) => s.classList.toggle("on", s.dataset.step === String(step)));
    if (step === 4) preview();
  }

  function kindChanged() {
    const welcome = isWelcome();
    const toggle = (name, visible) => document.querySelectorAll(`[data-for="${name}"]`).forEach((el) => { el.hidden = !visible; });
    toggle("welcome", welcome);
    toggle("schedule", !welcome);
    toggle("audience", !welcome);
    toggle("groups", !welcome && isGroup());
    toggle("customers", !welcome && !isGroup());
    toggle("not-moment", field("kind").value !== "moment");
    toggle("moment", field("kind").value === "moment");
    document.querySelectorAll("[data-label-for]").forEach((el) => {
      el.hidden = (el.dataset.labelFor === "welcome") !== welcome;
    });
    phone();
    schedulePreview();
  }

  root.addEventListener("click", (ev) => {
    const target = ev.target;
    if (target.dataset.next) show(Number(target.dataset.next));
    if (target.dataset.add) addAtt(target.dataset.add);
  });
  ["segment_id", "group_ids", "exclusion_segment_ids", "holdout_percent", "contact_way_id", "moment_tag_ids"].forEach((n) => field(n).addEventListener("change", schedulePreview));
  field("kind").addEventListener("change", kindChanged);
  field("text").addEventListener("input", phone);
  document.getElementById("submit").addEventListener("click", async () => {
    const err = document.getElementById("error");
    err.hidden = true;
    try {
      const r = await window.scrm.api(root.dataset.create, { method: "POST", body: Object.assign(payload(), { submit: true }) });
      window.location.href = r.url;
    } catch (e) {
      err.textContent = e.message; err.hidden = false;
    }
  });
  kindChanged();
})();
