// Campaign wizard: audience (live count) → content (phone preview) → schedule → review → submit.
(function () {
  "use strict";
  const root = document.getElementById("wizard");
  if (!root) return;
  const $ = (sel) => root.querySelector(sel);
  const field = (name) => root.querySelector(`[name="${name}"]`);
  const atts = [];
  let timer = null;

  function esc(s) { const d = document.createElement("div"); d.textContent = s == null ? "" : String(s); return d.innerHTML; }
  function multi(name) { return Array.from(field(name).selectedOptions).map((o) => Number(o.value)); }
  function isGroup() { return field("kind").value === "broadcast_group"; }

  function payload() {
    const when = root.querySelector('[name="when"]:checked').value;
    const toIso = (v) => (v ? new Date(v).toISOString() : null);
    return {
      name: field("name").value || "未命名活动",
      kind: field("kind").value,
      text: field("text").value,
      attachments: atts.map(readAtt),
      segment_id: !isGroup() && field("segment_id").value ? Number(field("segment_id").value) : null,
      group_ids: isGroup() ? multi("group_ids") : [],
      exclusion_segment_ids: multi("exclusion_segment_ids"),
      holdout_percent: Number(field("holdout_percent").value || 0),
      priority: Number(field("priority").value || 0),
      due_at: when === "at" ? toIso(field("due_at").value) : null,
      recurrence: field("recurrence").value,
      recurrence_until: toIso(field("recurrence_until").value),
    };
  }

  function readAtt(row) {
    const t = row.dataset.type, v = (n) => row.querySelector(`[data-k="${n}"]`).value;
    if (t === "link") return { msgtype: "link", link: { title: v("title"), url: v("url") } };
    if (t === "image") return { msgtype: "image", image: { pic_url: v("pic_url") } };
    return { msgtype: "miniprogram", miniprogram: { title: v("title"), appid: v("appid"), page: v("page"), pic_media_id: v("pic_media_id") } };
  }

  function addAtt(type) {
    if (atts.length >= 9) { alert("最多 9 个附件"); return; }
    const row = document.createElement("div");
    row.className = "att-row"; row.dataset.type = type;
    const inputs = { link: [["title", "链接标题"], ["url", "https://"]], image: [["pic_url", "图片地址 https://"]],
      miniprogram: [["title", "小程序标题"], ["appid", "AppID"], ["page", "页面路径"], ["pic_media_id", "封面 media_id"]] }[type];
    row.innerHTML = inputs.map(([k, p]) => `<input data-k="${k}" placeholder="${p}">`).join("") + '<button type="button">✕</button>';
    row.querySelector("button").onclick = () => { atts.splice(atts.indexOf(row), 1); row.remove(); phone(); };
    row.addEventListener("input", phone);
    atts.push(row); $("#atts").appendChild(row); phone();
  }

  function phone() {
    const p = document.getElementById("phone");
    const text = field("text").value;
    let html = `<div class="bubble">${esc(text || "在此预览群发内容").replace(/\n/g, "<br>")}</div>`;
    for (const a of atts.map(readAtt)) {
      const b = a[a.msgtype];
      html += `<div class="bubble att">${a.msgtype === "link" ? "🔗 " + esc(b.title || "链接") : a.msgtype === "image" ? "🖼 图片" : "▣ " + esc(b.title || "小程序")}</div>`;
    }
    p.innerHTML = html;
  }

  function reasons(list) {
    return list.length ? "<ul class='plain'>" + list.map((e) => `<li>${esc(e.label)}：<strong>${e.count}</strong></li>`).join("") + "</ul>" : "<p class='muted'>无排除</p>";
  }

  async function preview() {
    const count = document.getElementById("live-count"), note = document.getElementById("live-note");
    note.textContent = "计算中…";
    try {
      const r = await window.scrm.api(root.dataset.preview, { method: "POST", body: payload() });
      count.textContent = r.recipients;
      note.textContent = `受众 ${r.audience} 人，排除 ${r.audience - r.recipients} 人`;
      const q = r.quota || {};
      document.getElementById("review").innerHTML =
        `<p>将发送给 <strong id="review-count">${r.recipients}</strong> 位${isGroup() ? "客户群" : "客户"}，分 ${r.batches} 个批次，由 ${(r.senders || []).length} 位员工确认发送。</p>` +
        `<h4>排除原因</h4>${reasons(r.exclusions || [])}` +
        `<h4>配额</h4><ul class="plain"><li>客户接收上限：${esc(q.customer_mode)}</li><li>客户群接收上限：${esc(q.group_mode)}</li>` +
        `<li>朋友圈每人每天：${q.moments_per_day}</li><li>品牌营销上限：${q.brand_cap ? esc(q.brand_cap_period) + " " + q.brand_cap + " 条" : "未设置"}</li>` +
        `<li>免打扰：${esc(q.quiet_hours)}</li><li>超过 ${q.approval_threshold} 人需店长审批</li></ul>` +
        `<p class="muted">最早发送时间：${new Date(r.send_after).toLocaleString("zh-CN")}</p>`;
    } catch (e) {
      note.textContent = e.message;
    }
  }

  function schedulePreview() { clearTimeout(timer); timer = setTimeout(preview, 300); }

  function show(step) {
    root.querySelectorAll("section[data-step]").forEach((s) => { s.hidden = s.dataset.step !== String(step); });
    document.querySelectorAll("#steps span").forEach((s) => s.classList.toggle("on", s.dataset.step === String(step)));
    if (step === 4) preview();
  }

  function kindChanged() {
    root.querySelector('[data-for="groups"]').hidden = !isGroup();
    root.querySelector('[data-for="customers"]').hidden = isGroup();
    schedulePreview();
  }

  root.addEventListener("click", (ev) => {
    const t = ev.target;
    if (t.dataset.next) show(Number(t.dataset.next));
    if (t.dataset.add) addAtt(t.dataset.add);
  });
  ["segment_id", "group_ids", "exclusion_segment_ids", "holdout_percent"].forEach((n) => field(n).addEventListener("change", schedulePreview));
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
  phone();
})();
